import { afterFunc, background, withTimeout } from 'leashjs';
const f = () => {};
const N = 1_000_000;
for (let r = 0; r < 3; r++) {
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const [ctx, c] = withTimeout(background(), 5000);
    const s1 = afterFunc(ctx, f); s1();
    const s2 = afterFunc(ctx, f); s2();
    c();
  }
  console.log(((performance.now() - t0) * 1e6 / N).toFixed(0), 'ns/iter');
}
