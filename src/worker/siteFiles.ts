// Files under the site root (the shipped texts, the built-in tokenizer), fetched by the worker. A
// failure names the URL and says whether the connection or the server failed, so the person knows
// whether to check the network or the deployment.

import { NetworkError } from '../jobs/loadFailure';

export interface SiteFiles {
  text(path: string): Promise<string>;
  bytes(path: string): Promise<ArrayBuffer>;
}

/** Fetches paths relative to siteRoot (where the studio is served from). */
export function siteFiles(siteRoot: string, fetchFn: typeof fetch = fetch): SiteFiles {
  const get = async (path: string) => {
    const url = new URL(path, siteRoot).href;
    let response: Response;
    try {
      response = await fetchFn(url);
    } catch (error) {
      throw new NetworkError(url, error instanceof Error ? error.message : String(error));
    }
    if (!response.ok)
      throw new NetworkError(url, `the server answered ${response.status} ${response.statusText}`);
    return response;
  };
  return {
    text: async (path) => (await get(path)).text(),
    bytes: async (path) => (await get(path)).arrayBuffer(),
  };
}
