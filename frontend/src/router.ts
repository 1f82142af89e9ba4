/** Routes. History mode: the server answers every non-API path with index.html (deep links). */
import { createRouter, createWebHistory, type Router, type RouterHistory } from 'vue-router'
import { currentUser, whoAmI } from './api/auth'
import { onUnauthorized } from './api/client'

export function createAppRouter(history: RouterHistory = createWebHistory()) {
  const router = createRouter({
    history,
    routes: [
      { path: '/', name: 'new', component: () => import('./pages/NewResearch.vue') },
      { path: '/login', name: 'login', component: () => import('./pages/LoginPage.vue') },
      { path: '/sessions', name: 'sessions', component: () => import('./pages/SessionsList.vue') },
      { path: '/sessions/:id', name: 'session', component: () => import('./pages/SessionPage.vue'), props: true },
      { path: '/:rest(.*)*', name: 'missing', component: () => import('./pages/NotFound.vue') },
    ],
  })
  guardRoutes(router)
  return router
}

/**
 * Every page but the login needs a signed-in user: ask the server once, then trust the cookie
 * until an API call answers 401 (expired or revoked), which sends the user to sign in again.
 * A server that cannot be reached is not a reason to show the login: the page shows that error.
 */
export function guardRoutes(router: Router, ask: typeof whoAmI = whoAmI): void {
  router.beforeEach(async (to) => {
    if (to.name === 'login' || currentUser.value) return true
    try {
      if (await ask()) return true
    } catch {
      return true
    }
    return { name: 'login', query: { next: to.fullPath } }
  })
  onUnauthorized(() => {
    currentUser.value = null
    const here = router.currentRoute.value
    if (here.name !== 'login') void router.push({ name: 'login', query: { next: here.fullPath } })
  })
}
