/** Routes. History mode: the server answers every non-API path with index.html (deep links). */
import { createRouter, createWebHistory, type RouterHistory } from 'vue-router'

export function createAppRouter(history: RouterHistory = createWebHistory()) {
  return createRouter({
    history,
    routes: [
      { path: '/', name: 'new', component: () => import('./pages/NewResearch.vue') },
      { path: '/sessions', name: 'sessions', component: () => import('./pages/SessionsList.vue') },
      { path: '/sessions/:id', name: 'session', component: () => import('./pages/SessionPage.vue'), props: true },
      { path: '/:rest(.*)*', name: 'missing', component: () => import('./pages/NotFound.vue') },
    ],
  })
}
