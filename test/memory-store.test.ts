import t from 'tap'
import { MemoryStore } from '../lib/store/memory-store.js'
import { storeContract } from './fixtures/store-contract.js'

storeContract(t, async () => ({ store: new MemoryStore(), close: async () => {} }))
