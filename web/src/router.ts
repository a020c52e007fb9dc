import { useSyncExternalStore } from "react";

/** Hash routes (`#/tasks/abc`): the server serves one index.html, the page picks the view. */
function current(): string[] {
  const hash = window.location.hash.replace(/^#\/?/, "");
  const [path] = hash.split("?");
  return (path ?? "").split("/").filter(Boolean).map(decodeURIComponent);
}

function subscribe(l: () => void): () => void {
  window.addEventListener("hashchange", l);
  return () => window.removeEventListener("hashchange", l);
}

let cache = { key: "", value: [] as string[] };
export function useRoute(): string[] {
  return useSyncExternalStore(subscribe, () => {
    const key = window.location.hash;
    if (key !== cache.key) cache = { key, value: current() };
    return cache.value;
  });
}

export const href = (...parts: string[]): string => `#/${parts.map(encodeURIComponent).join("/")}`;
export const navigate = (...parts: string[]): void => {
  window.location.hash = href(...parts);
};

/** The query part of the hash (`#/tasks?queue=a`). */
export function useHashQuery(): URLSearchParams {
  useRoute();
  const q = window.location.hash.split("?")[1] ?? "";
  return new URLSearchParams(q);
}
