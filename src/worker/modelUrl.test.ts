import { describe, expect, it } from 'vitest';
import { modelFolderUrl } from './modelUrl';

// What the studio's URL box accepts: folder URLs as before, and Hugging Face repository ids.

describe('modelFolderUrl', () => {
  it('turns org/name into the repository files at main', () => {
    expect(modelFolderUrl('facebook/opt-125m')).toBe(
      'https://huggingface.co/facebook/opt-125m/resolve/main/',
    );
    expect(modelFolderUrl('  meta-llama/Llama-3.2-1B ')).toBe(
      'https://huggingface.co/meta-llama/Llama-3.2-1B/resolve/main/',
    );
  });

  it('turns org/name@revision into the files at that revision, one path segment', () => {
    expect(modelFolderUrl('test-org/tiny@v1.0')).toBe('https://huggingface.co/test-org/tiny/resolve/v1.0/');
    expect(modelFolderUrl('test-org/tiny@refs/pr/1')).toBe(
      'https://huggingface.co/test-org/tiny/resolve/refs%2Fpr%2F1/',
    );
  });

  it('keeps a folder URL, adding the final slash', () => {
    expect(modelFolderUrl('https://example.test/models/tiny')).toBe('https://example.test/models/tiny/');
    expect(modelFolderUrl('http://127.0.0.1:5199/models/stories260K/')).toBe(
      'http://127.0.0.1:5199/models/stories260K/',
    );
  });

  it('refuses what is neither, naming the input', () => {
    expect(() => modelFolderUrl('example.com/model')).toThrow(
      'example.com/model: is neither a URL nor a Hugging Face repository id',
    );
    expect(() => modelFolderUrl('org/name@../../x')).toThrow('is not a Hugging Face repository id');
    expect(() => modelFolderUrl('ftp://host/models/')).toThrow(
      'is a ftp: address; only http(s) folders can be opened',
    );
  });
});
