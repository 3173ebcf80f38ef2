/**
 * Finds a key that appears twice in one object of a JSON text. JSON.parse keeps the last of
 * duplicate keys while other parsers keep the first, so a document with `"label"` twice could show
 * one name to a person and verify with another: such a document is refused. Runs on text that
 * JSON.parse has already accepted, so it only has to track strings and nesting.
 */
export function findDuplicateKey(json: string): string | undefined {
  const objects: (Set<string> | undefined)[] = []; // undefined marks an array level
  let i = 0;
  while (i < json.length) {
    const c = json[i];
    if (c === '"') {
      const end = stringEnd(json, i);
      const keys = objects[objects.length - 1];
      if (keys !== undefined && json[skipSpace(json, end)] === ':') {
        const key = JSON.parse(json.slice(i, end)) as string; // compares keys after unescaping
        if (keys.has(key)) return key;
        keys.add(key);
      }
      i = end;
      continue;
    }
    if (c === '{') objects.push(new Set());
    else if (c === '[') objects.push(undefined);
    else if (c === '}' || c === ']') objects.pop();
    i++;
  }
  return undefined;
}

function stringEnd(json: string, start: number): number {
  let i = start + 1;
  while (i < json.length) {
    if (json[i] === '\\') i += 2;
    else if (json[i] === '"') return i + 1;
    else i++;
  }
  return json.length;
}

function skipSpace(json: string, from: number): number {
  let i = from;
  while (json[i] === ' ' || json[i] === '\t' || json[i] === '\n' || json[i] === '\r') i++;
  return i;
}
