declare module '*.vue' {
  import type { DefineComponent } from 'vue'
  const component: DefineComponent<object, object, unknown>
  export default component
}

/** Mammoth's self-contained browser build (the package ships no types); only what we call. */
declare module 'mammoth/mammoth.browser.min.js' {
  interface Message {
    type: 'warning' | 'error'
    message: string
  }
  export function convertToHtml(input: { arrayBuffer: ArrayBuffer }): Promise<{ value: string; messages: Message[] }>
}
