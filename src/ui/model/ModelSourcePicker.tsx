// Where a model comes from: the built-in stories260K, a checkpoint dropped or picked from disk, or
// a URL. The files stay on this machine: File objects go to the worker, which reads slices of them.

import { type DragEvent, type FormEvent, useEffect, useRef, useState } from 'react';
import { Button } from '../shell/Button';
import { rememberedUrl, useModelStudio } from './modelStore';

export function ModelSourcePicker() {
  const source = useModelStudio((s) => s.source);
  const busy = useModelStudio((s) => s.inspect.status === 'inspecting');
  const chooseBuiltin = useModelStudio((s) => s.chooseBuiltin);
  const chooseFiles = useModelStudio((s) => s.chooseFiles);
  const chooseUrl = useModelStudio((s) => s.chooseUrl);
  const [url, setUrl] = useState(rememberedUrl);
  const [dragging, setDragging] = useState(false);

  // A file dropped beside the drop zone would make the browser navigate to it, losing the page.
  useEffect(() => {
    const guard = (event: globalThis.DragEvent) => {
      if (event.dataTransfer?.types.includes('Files')) event.preventDefault();
    };
    window.addEventListener('dragover', guard);
    window.addEventListener('drop', guard);
    return () => {
      window.removeEventListener('dragover', guard);
      window.removeEventListener('drop', guard);
    };
  }, []);

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    // The DataTransfer is emptied when the handler returns: take its entries now, read them later.
    void filesFromDrop(event.dataTransfer).then(({ files, label }) => {
      if (files.length > 0) void chooseFiles(files, label);
    });
  };

  const onPicked = (input: HTMLInputElement | null, folder: boolean) => {
    const picked = [...(input?.files ?? [])];
    if (input) input.value = '';
    if (picked.length === 0) return;
    if (!folder) {
      void chooseFiles(picked);
      return;
    }
    const { files, label } = topLevelOfFolder(picked);
    void chooseFiles(files, label);
  };

  const onUrl = (event: FormEvent) => {
    event.preventDefault();
    if (url.trim()) void chooseUrl(url.trim());
  };

  return (
    <div className="source-picker">
      <button
        type="button"
        className={`source-builtin${source.kind === 'builtin' ? ' selected' : ''}`}
        data-testid="model-builtin"
        aria-pressed={source.kind === 'builtin'}
        disabled={busy}
        onClick={() => void chooseBuiltin()}
      >
        <strong>stories260K</strong>
        <span className="muted small">built in · Llama · 260K parameters · TinyStories</span>
      </button>

      <section
        className={`drop-zone${dragging ? ' dragging' : ''}${source.kind === 'files' ? ' selected' : ''}`}
        data-testid="model-drop"
        aria-label="Drop a checkpoint folder or files"
        onDragEnter={(event) => {
          event.preventDefault();
          setDragging(true);
        }}
        onDragOver={(event) => {
          event.preventDefault();
          event.dataTransfer.dropEffect = 'copy';
        }}
        onDragLeave={(event) => {
          if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setDragging(false);
        }}
        onDrop={onDrop}
      >
        <p>
          {source.kind === 'files' ? (
            <>
              <strong>{source.label}</strong>{' '}
              <span className="muted">
                ({source.count} file{source.count === 1 ? '' : 's'})
              </span>
            </>
          ) : (
            <>
              Drop a checkpoint folder or its files here
              <span className="muted small"> · config.json with safetensors, or a llama2.c .bin</span>
            </>
          )}
        </p>
        <div className="drop-buttons">
          <FilePicker label="Choose files…" testId="model-files-input" disabled={busy} onPicked={onPicked} />
          <FilePicker
            label="Choose folder…"
            folder
            testId="model-folder-input"
            disabled={busy}
            onPicked={onPicked}
          />
        </div>
      </section>

      <form className={`url-form${source.kind === 'url' ? ' selected' : ''}`} onSubmit={onUrl}>
        <label htmlFor="model-url">
          Or a folder URL, or a Hugging Face repository (org/name or org/name@revision)
        </label>
        <div className="url-row">
          <input
            id="model-url"
            // Not type="url": a repository id such as facebook/opt-125m is not a URL to the browser.
            type="text"
            inputMode="url"
            autoCapitalize="off"
            spellCheck={false}
            placeholder="facebook/opt-125m or https://huggingface.co/facebook/opt-125m/resolve/main/"
            value={url}
            data-testid="model-url"
            onChange={(event) => setUrl(event.target.value)}
          />
          <button
            type="submit"
            className="button"
            data-testid="model-url-open"
            disabled={busy || !url.trim()}
          >
            Open
          </button>
        </div>
      </form>
    </div>
  );
}

/**
 * The files directly inside a picked folder. A checkpoint keeps its files at the top; subfolders
 * (onnx/, .git/, other formats) could hold a second config.json that is not this model's.
 */
function topLevelOfFolder(files: File[]): { files: File[]; label?: string } {
  const depth = (f: File) => (f.webkitRelativePath || f.name).split('/').length;
  const top = Math.min(...files.map(depth));
  const label = (files[0]?.webkitRelativePath || '').split('/')[0] || undefined;
  return { files: files.filter((f) => depth(f) === top && !f.name.startsWith('.')), label };
}

/** Files of a drop: a dropped folder is walked one level deep, for the reason above. */
async function filesFromDrop(transfer: DataTransfer): Promise<{ files: File[]; label?: string }> {
  const items = [...transfer.items].filter((item) => item.kind === 'file');
  const entries = items.map((item) => item.webkitGetAsEntry?.() ?? null);
  const plain = [...transfer.files];
  if (entries.some((entry) => entry === null)) return { files: plain };
  const files: File[] = [];
  for (const entry of entries as FileSystemEntry[]) {
    if (entry.isFile) files.push(await fileOf(entry as FileSystemFileEntry));
    else if (entry.isDirectory) {
      for (const child of await childrenOf(entry as FileSystemDirectoryEntry)) {
        if (child.isFile && !child.name.startsWith('.'))
          files.push(await fileOf(child as FileSystemFileEntry));
      }
    }
  }
  const only = entries.length === 1 ? entries[0] : null;
  return { files, label: only?.isDirectory ? only.name : undefined };
}

function fileOf(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

/** readEntries answers in batches (100 in Chromium) until it answers with none. */
async function childrenOf(directory: FileSystemDirectoryEntry): Promise<FileSystemEntry[]> {
  const reader = directory.createReader();
  const all: FileSystemEntry[] = [];
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) =>
      reader.readEntries(resolve, reject),
    );
    if (batch.length === 0) return all;
    all.push(...batch);
  }
}

/** A button that opens the browser's picker for files, or for a folder, through a hidden input. */
function FilePicker({
  label,
  folder = false,
  testId,
  disabled,
  onPicked,
}: {
  label: string;
  folder?: boolean;
  testId: string;
  disabled: boolean;
  onPicked: (input: HTMLInputElement, folder: boolean) => void;
}) {
  const input = useRef<HTMLInputElement>(null);
  // React does not know webkitdirectory; without it the folder picker is a plain file picker.
  useEffect(() => {
    if (folder) input.current?.setAttribute('webkitdirectory', '');
  }, [folder]);
  return (
    <>
      <Button disabled={disabled} onClick={() => input.current?.click()}>
        {label}
      </Button>
      <input
        ref={input}
        type="file"
        multiple
        hidden
        data-testid={testId}
        onChange={(event) => onPicked(event.currentTarget, folder)}
      />
    </>
  );
}
