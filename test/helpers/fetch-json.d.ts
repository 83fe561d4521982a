// Tests read JSON bodies they assert on field by field; type them loosely (undici types say unknown).
declare global {
  interface Response {
    // biome-ignore lint/suspicious/noExplicitAny: test assertions inspect arbitrary JSON
    json(): Promise<any>;
  }
}

export {};
