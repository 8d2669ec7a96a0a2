lab.snippet = true;
lab.run({ slow: async () => (await fetch("/api/price/slow")).status });
