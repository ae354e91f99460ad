import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { openDatabase } from '../lib/store/kysely/connect.js'
import { KyselyStore } from '../lib/store/kysely/kysely-store.js'
import { storeContract } from './fixtures/store-contract.js'
import type { StoreUnderTest } from './fixtures/store-contract.js'

async function openStore (url: string, cleanup: () => void = () => {}): Promise<StoreUnderTest> {
  const { db } = await openDatabase(url)
  const store = new KyselyStore({ db })
  await store.migrate()
  return {
    store,
    close: async () => {
      await db.destroy()
      cleanup()
    }
  }
}

t.test('SQLite in memory', async (t) => {
  storeContract(t, async () => await openStore('sqlite::memory:'))
})

t.test('SQLite file (WAL)', async (t) => {
  storeContract(t, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oauth2-sqlite-'))
    // A directory that does not exist yet: openDatabase creates it.
    return await openStore(`sqlite:${join(dir, 'data', 'oauth2.db')}`, () => rmSync(dir, { recursive: true, force: true }))
  })
})
