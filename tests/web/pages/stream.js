// Reads a chunked body with a reader; chunk arrival times are kept apart
// from the trace (they differ run to run) in window.__times.
lab.run({
  chunks: async () => {
    const t0 = performance.now();
    const r = await fetch("/api/stream");
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    const chunks = [];
    window.__times = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(dec.decode(value));
      __times.push(Math.round(performance.now() - t0));
    }
    return { status: r.status, chunks };
  },
});
