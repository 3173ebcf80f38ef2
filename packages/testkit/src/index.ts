export { vectorsDir, readVectorFile, readVectorJson } from './vectors.ts';
