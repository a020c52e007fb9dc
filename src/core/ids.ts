import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"; // Crockford base32, lower case

let lastMs = 0;
let counter = 0;

/**
 * A new identifier such as `task_01jh3k…`: a prefix naming the kind, then 10 characters of
 * milliseconds, a per-millisecond counter (ids made in one process sort in creation order)
 * and 10 random characters.
 */
export function newId(prefix: string, now = Date.now()): string {
  if (now === lastMs) counter++;
  else {
    lastMs = now;
    counter = 0;
  }
  let time = "";
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  let seq = "";
  let c = counter;
  for (let i = 0; i < 4; i++) {
    seq = ALPHABET[c % 32] + seq;
    c = Math.floor(c / 32);
  }
  const bytes = randomBytes(10);
  let rand = "";
  for (const b of bytes) rand += ALPHABET[b % 32];
  return `${prefix}_${time}${seq}${rand}`;
}
