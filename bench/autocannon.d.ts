/** The part of autocannon's API the benchmark uses (the package ships no types). */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'

  export interface AutocannonRequest {
    method?: string
    path?: string
    headers?: Record<string, string>
    body?: string
    /** Called before each request is sent (the request rebuilt each time): returns the request to send. */
    setupRequest?: (request: AutocannonRequest) => AutocannonRequest
  }

  interface AutocannonOptions {
    url: string
    method?: string
    headers?: Record<string, string>
    body?: string
    connections?: number
    pipelining?: number
    duration?: number
    /** Milliseconds between samples; the load also stops only at one of these ticks (default 1000). */
    sampleInt?: number
    timeout?: number
    overallRate?: number
    requests?: AutocannonRequest[]
  }

  interface AutocannonResult {
    errors: number
    timeouts: number
    non2xx: number
    duration: number
    statusCodeStats: Record<string, { count: number }>
  }

  interface Instance extends EventEmitter, PromiseLike<AutocannonResult> {
    stop: () => void
  }

  function autocannon (options: AutocannonOptions): Instance
  export default autocannon
}
