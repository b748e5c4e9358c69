// foldEmbedding's product on FastKernels: the table transposed once, then one GEMM. A word model's fold is a
// billion or more multiply-adds (V = 10 000, E = 128, 4H = 1024): seconds as plain loops, milliseconds here.
import type { FoldProduct } from '../foldEmbedding';
import type { FastKernels } from './kernels';

export function kernelFoldProduct(k: FastKernels): FoldProduct {
  return (W, table, rows, V, E, dtype) => {
    if (dtype !== k.dtype) throw new Error(`a ${dtype} fold on the ${k.dtype} ${k.name} kernels`);
    const aligned = (n: number): number => (n + 15) & ~15;
    const w = 0, t = aligned(rows * E), tt = t + aligned(V * E), out = tt + aligned(V * E);
    k.ensure(out + rows * V);
    const heap = k.heap();
    heap.set(W, w);
    heap.set(table, t);
    k.transpose(t, V, E, tt); // [E, V]: the GEMM's B is row-major
    k.gemm(rows, V, E, w, E, 1, tt, V, out, V, false);
    return k.heap().slice(out, out + rows * V);
  };
}
