// What a kernel declaration (kernels/kernel.ts) checks against its WGSL: the uniform structs a
// module declares, its entry points, and which uniform variable each entry point reaches. This is
// not a WGSL parser; it reads the few shapes our shaders use (`struct S { a: u32, b: f32, }`,
// `@group(g) @binding(b) var<uniform> v: S;`, `fn name(...) -> T { ... }`) and follows calls between
// functions by name, which is enough because WGSL has no function pointers or overloading.

export interface WgslField {
  name: string;
  type: string;
}

export interface WgslUniform {
  /** The variable's name and its struct's. */
  variable: string;
  struct: string;
  group: number;
  binding: number;
}

export interface WgslModuleShape {
  structs: Map<string, WgslField[]>;
  uniforms: Map<string, WgslUniform>;
  entryPoints: Set<string>;
  /** Per function, the identifiers its parameters and body mention. */
  functions: Map<string, Set<string>>;
}

/** Removes // and /* *\/ comments, keeping line breaks so that nothing else shifts meaning. */
function stripComments(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, '');
}

function identifiers(text: string): Set<string> {
  return new Set(text.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []);
}

/** The index just after the brace that closes the one at `open`. */
function closingBrace(code: string, open: number): number {
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    if (code[i] === '{') depth++;
    else if (code[i] === '}' && --depth === 0) return i + 1;
  }
  throw new SyntaxError('unbalanced braces in a WGSL module');
}

export function readWgslShape(source: string): WgslModuleShape {
  const code = stripComments(source);
  const structs = new Map<string, WgslField[]>();
  for (const m of code.matchAll(/\bstruct\s+(\w+)\s*\{([^}]*)\}/g)) {
    const fields = [...(m[2] as string).matchAll(/(\w+)\s*:\s*([\w]+(?:<[^>]*>)?)/g)].map((f) => ({
      name: f[1] as string,
      type: f[2] as string,
    }));
    structs.set(m[1] as string, fields);
  }
  const uniforms = new Map<string, WgslUniform>();
  for (const m of code.matchAll(/@group\((\d+)\)\s*@binding\((\d+)\)\s*var<uniform>\s+(\w+)\s*:\s*(\w+)/g)) {
    uniforms.set(m[3] as string, {
      variable: m[3] as string,
      struct: m[4] as string,
      group: Number(m[1]),
      binding: Number(m[2]),
    });
  }
  const entryPoints = new Set<string>();
  const functions = new Map<string, Set<string>>();
  for (const m of code.matchAll(/\bfn\s+(\w+)\s*\(/g)) {
    const open = code.indexOf('{', m.index);
    functions.set(m[1] as string, identifiers(code.slice(m.index + m[0].length, closingBrace(code, open))));
    // The attributes between the previous declaration and this one say whether it is an entry.
    const before = code.slice(
      Math.max(code.lastIndexOf('}', m.index), code.lastIndexOf(';', m.index)) + 1,
      m.index,
    );
    if (/@compute\b/.test(before)) entryPoints.add(m[1] as string);
  }
  return { structs, uniforms, entryPoints, functions };
}

/** The uniform variables an entry point reads, directly or through the functions it calls. */
export function uniformsReached(shape: WgslModuleShape, entryPoint: string): WgslUniform[] {
  const seen = new Set<string>();
  const reached = new Map<string, WgslUniform>();
  const visit = (fn: string): void => {
    if (seen.has(fn)) return;
    seen.add(fn);
    for (const id of shape.functions.get(fn) ?? []) {
      const uniform = shape.uniforms.get(id);
      if (uniform) reached.set(id, uniform);
      if (shape.functions.has(id)) visit(id);
    }
  };
  visit(entryPoint);
  return [...reached.values()];
}
