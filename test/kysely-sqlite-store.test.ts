import t from 'tap'
import { storeContract } from './fixtures/store-contract.js'
import { openSqliteStore } from './fixtures/stores.js'

t.test('SQLite in memory', async (t) => {
  storeContract(t, async () => await openSqliteStore('memory'))
})

t.test('SQLite file (WAL), in a directory openDatabase creates', async (t) => {
  storeContract(t, async () => await openSqliteStore('file'))
})
