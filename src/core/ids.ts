const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"; // Crockford base32, lower case

let lastMs = 0;
let counter = 0;

// Random bytes for ids, drawn 4 KiB at a time: one `randomBytes(10)` per id allocated a Buffer
// and cost ~1 µs, ten times the rest of the id (ids are made per request and per row). Ids are
// not secrets (tokens draw their own bytes in src/auth/tokens.ts); the pool is still a CSPRNG's.
const pool = new Uint8Array(4096);
let offset = pool.length;

/** The 10 time characters of the millisecond `lastMs` (ids of one millisecond share them). */
let timeText = "";
const CODES = Array.from(ALPHABET, (c) => c.charCodeAt(0));
/** The counter and random characters of one id, as character codes. */
const tail = new Array<number>(14).fill(0);

/**
 * A new identifier such as `task_01jh3k…`: a prefix naming the kind, then 10 characters of
 * milliseconds, a per-millisecond counter (ids made in one process sort in creation order)
 * and 10 random characters.
 */
export function newId(prefix: string, now = Date.now()): string {
  if (now === lastMs && timeText !== "") counter++;
  else {
    lastMs = now;
    counter = 0;
    let time = "";
    let t = now;
    for (let i = 0; i < 10; i++) {
      time = ALPHABET[t % 32] + time;
      t = Math.floor(t / 32);
    }
    timeText = time;
  }
  let c = counter;
  for (let i = 3; i >= 0; i--) {
    tail[i] = CODES[c % 32]!;
    c = Math.floor(c / 32);
  }
  if (offset + 10 > pool.length) {
    crypto.getRandomValues(pool);
    offset = 0;
  }
  for (let i = 0; i < 10; i++) tail[4 + i] = CODES[pool[offset + i]! % 32]!;
  offset += 10;
  return `${prefix}_${timeText}${String.fromCharCode.apply(null, tail)}`;
}
