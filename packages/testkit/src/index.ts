export { vectorsDir, readVectorFile, readVectorJson } from './vectors.ts';
export { ChildJsonLines } from './child-lines.ts';
