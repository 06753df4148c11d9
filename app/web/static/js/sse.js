// Server-sent events over fetch(): the job stream needs the Authorization header, which
// EventSource cannot send. Reconnects as EventSource would, resuming after Last-Event-ID.

import { ApiError, request } from "./api.js";

function parseBlock(block) {
  const event = { type: "message", data: "", id: undefined, retry: undefined };
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const name = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "event") event.type = value;
    else if (name === "data") data.push(value);
    else if (name === "id") event.id = value;
    else if (name === "retry" && /^\d+$/.test(value)) event.retry = Number(value);
  }
  event.data = data.join("\n");
  return event;
}

// Calls `onEvent(type, data)` for each event until an `end` event or `close()`.
// Returns { close, done } where `done` settles when the stream is over.
export function followEvents(path, { onEvent, onError }) {
  const controller = new AbortController();
  let lastEventId = "";
  let retryMs = 1000;
  let finished = false;

  async function readOnce() {
    const headers = { Accept: "text/event-stream" };
    if (lastEventId) headers["Last-Event-ID"] = lastEventId;
    const response = await request("GET", path, { headers, raw: true, signal: controller.signal });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) !== -1) {
        const event = parseBlock(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
        if (event.retry !== undefined) retryMs = event.retry;
        if (event.id !== undefined) lastEventId = event.id;
        if (!event.data) continue;
        let data;
        try {
          data = JSON.parse(event.data);
        } catch {
          data = event.data;
        }
        onEvent(event.type, data);
        if (event.type === "end") {
          finished = true;
          controller.abort();
          return;
        }
      }
    }
  }

  const done = (async () => {
    let failures = 0;
    while (!finished && !controller.signal.aborted) {
      try {
        await readOnce();
        failures = 0;
      } catch (error) {
        if (controller.signal.aborted) break;
        // A refusal (404, 429 with Retry-After, 401) is reported; a dropped connection retried.
        if (error instanceof ApiError && error.status !== 503) {
          if (error.status === 429 && failures < 3) {
            failures += 1;
            const wait = Number(error.body && error.body.retry_after) || 5;
            await new Promise((resolve) => setTimeout(resolve, wait * 1000));
            continue;
          }
          onError(error);
          return;
        }
        failures += 1;
        if (failures > 5) {
          onError(error);
          return;
        }
      }
      if (!finished && !controller.signal.aborted) {
        await new Promise((resolve) => setTimeout(resolve, retryMs));
      }
    }
  })();

  return { close: () => controller.abort(), done };
}
