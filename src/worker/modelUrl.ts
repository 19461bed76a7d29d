// What the URL box of the studio accepts: a folder URL, or a Hugging Face repository id, which is
// shorter to type and to share. 'org/name' and 'org/name@revision' name the repository's files at
// main or at that revision (a branch, a tag or a commit).

import { ModelFormatError } from '../model/byteSource';

export const HUB = 'https://huggingface.co/';

// Hub user and organization names hold letters, digits, '-' and '_' (no dots, so 'example.com/x'
// is never taken for one); repository names may also hold dots ('Llama-3.2-1B').
const REPO_ID = /^([A-Za-z0-9][A-Za-z0-9_-]*)\/([A-Za-z0-9][A-Za-z0-9._-]*)(?:@([A-Za-z0-9._/-]+))?$/;

/** The folder URL, ending in '/', that a URL or repository id names. */
export function modelFolderUrl(input: string): string {
  const text = input.trim();
  const id = REPO_ID.exec(text);
  if (id) {
    const [, org, name, revision = 'main'] = id;
    if (name === '.' || name === '..' || revision.split('/').some((part) => part === '' || part === '..')) {
      throw new ModelFormatError(text, 'is not a Hugging Face repository id: org/name or org/name@revision');
    }
    // A revision like refs/pr/1 is one path segment in the hub's URLs.
    return `${HUB}${org}/${name}/resolve/${encodeURIComponent(revision)}/`;
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ModelFormatError(
      input,
      'is neither a URL nor a Hugging Face repository id; give the address of a folder, such as https://huggingface.co/<org>/<model>/resolve/main/, or org/model',
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ModelFormatError(input, `is a ${url.protocol} address; only http(s) folders can be opened`);
  }
  return url.href.replace(/\/?$/, '/');
}
