// The CallWaiting TTS client: `paths` and `components` are generated from sdk/openapi.json by
// openapi-typescript (`make sdk`), requests are openapi-fetch's, typed by them.
import createClient, { type Client } from "openapi-fetch";

import type { components, paths } from "./schema.js";

export type { components, operations, paths } from "./schema.js";

/** The one error shape of every 4xx/5xx answer. */
export type ApiError = components["schemas"]["Error"];

/** `data` is typed as the JSON answer (openapi-fetch parses JSON unless a call passes
 * `parseAs`, as the audio endpoints' callers do: `parseAs: "arrayBuffer"`). */
export type CallWaitingClient = Client<paths, "application/json">;

/** A client whose every request carries `apiKey` as a Bearer token. */
export function createCallWaitingClient(baseUrl: string, apiKey: string): CallWaitingClient {
  return createClient<paths, "application/json">({
    baseUrl,
    headers: { Authorization: `Bearer ${apiKey}` },
  });
}
