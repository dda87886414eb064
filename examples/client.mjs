// The README's "From TypeScript" example, run by test/integration/client-package.test.ts:
// node examples/client.mjs HOST:PORT [KEY]
import {DynClient} from 'dyn'

const [node = '127.0.0.1:7070', key = 'cart:alice'] = process.argv.slice(2)
const client = new DynClient([node])

// A first write needs no context.
const first = await client.put(key, Buffer.from(JSON.stringify(['book'])), {w: 2})
if (!first.ok) throw new Error(`${first.error}: ${first.message}`)

// Read, merge the siblings (concurrent writes keep them all), and write back with the read's
// context: the write then supersedes every version that read showed, and only those.
const read = await client.get(key)
if (!read.ok) throw new Error(`${read.error}: ${read.message}`)
const items = new Set(read.found ? read.siblings.flatMap((sibling) => JSON.parse(sibling.value.toString())) : [])
items.add('pen')
const written = await client.put(key, Buffer.from(JSON.stringify([...items].sort())), read.found ? {context: read.context} : {})
if (!written.ok) throw new Error(`${written.error}: ${written.message}`)
console.log(JSON.stringify({key, items: [...items].sort(), siblings: written.siblings}))
