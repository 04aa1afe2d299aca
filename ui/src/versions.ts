/** Shapes of `GET /api/versions` as the OpenAPI document describes them. */
export interface Signature {
  name: string;
  email: string;
  date: string;
}

export interface Version {
  revision: string;
  parents: string[];
  tree: string;
  author: Signature;
  committer: Signature;
  message: string;
  subject: string;
  trailers: Array<{ key: string; value: string }> | Record<string, string>;
  files: Array<{ path: string; status: string; oldPath?: string }>;
  head: boolean;
  active: boolean;
}

export interface VersionPage {
  versions: Version[];
  nextCursor: string | null;
}

/** Trailers as pairs, whichever form the server sends (a list, or a map). */
export function trailerPairs(trailers: Version['trailers'] | undefined): Array<[string, string]> {
  if (!trailers) return [];
  if (Array.isArray(trailers)) return trailers.map((trailer) => [trailer.key, trailer.value]);
  return Object.entries(trailers);
}
