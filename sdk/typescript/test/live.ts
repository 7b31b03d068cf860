// The TypeScript SDK against a live service, run by tests/test_sdks.py once `make sdk` has
// compiled it: tsc type-checks every call below against the generated types, and the run
// prints one JSON report (stdout) that the Python test asserts on; the audio goes to a file.
//
// Environment: CW_BASE_URL, CW_API_KEY (tenant A), CW_OUTSIDER_KEY (tenant B), CW_AUDIO_PATH,
// CW_TEXT (what to synthesize).
import { writeFileSync } from "node:fs";

import {
  type ApiError,
  type CallWaitingClient,
  type components,
  createCallWaitingClient,
} from "../src/index.js";

type SynthesizeRequest = components["schemas"]["SynthesizeRequest"];

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/** What a refusal looked like: its status and the typed error's fields. */
interface Refusal {
  status: number;
  type: string;
  code: string;
  param: string | null;
}

function refusal(response: Response, error: ApiError | undefined): Refusal {
  if (error === undefined) throw new Error(`expected an error, got ${response.status}`);
  const { type, code, param } = error.error;
  return { status: response.status, type, code, param };
}

function must<T>(data: T | undefined, response: Response, error: unknown): T {
  if (data === undefined) {
    throw new Error(`${response.url}: ${response.status} ${JSON.stringify(error)}`);
  }
  return data;
}

/** Usage is recorded as the synthesis ends, which can be just after its last byte arrives. */
async function usageOnceBilled(client: CallWaitingClient) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { data, error, response } = await client.GET("/v1/usage");
    const usage = must(data, response, error);
    if (usage.totals.requests > 0 || Date.now() > deadline) return usage.totals;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main(): Promise<void> {
  const client = createCallWaitingClient(env("CW_BASE_URL"), env("CW_API_KEY"));
  const outsider = createCallWaitingClient(env("CW_BASE_URL"), env("CW_OUTSIDER_KEY"));

  const listed = await client.GET("/v1/voices");
  const voices = must(listed.data, listed.response, listed.error).voices;
  const stock = voices.filter((v) => v.type === "stock" && v.engine === "piper");
  const base = stock[0];
  if (base === undefined) throw new Error("no Piper stock voice listed");

  const created = await client.POST("/v1/voices", {
    body: { name: "TS SDK preset", base_voice: base.id, speed: 1.1 },
  });
  const preset = must(created.data, created.response, created.error);
  const relisted = await client.GET("/v1/voices");
  const presets = must(relisted.data, relisted.response, relisted.error)
    .voices.filter((v) => v.type === "preset")
    .map((v) => v.id);

  const byPath = { params: { path: { voice_id: preset.id } } };
  const outsiderGet = await outsider.GET("/v1/voices/{voice_id}", byPath);
  const outsiderDelete = await outsider.DELETE("/v1/voices/{voice_id}", byPath);

  // A whole file (not streamed), so the WAV header carries its exact sizes.
  const wav: SynthesizeRequest = { text: env("CW_TEXT"), voice: preset.id, format: "wav", stream: false };
  const spoken = await client.POST("/v1/synthesize", { body: wav, parseAs: "arrayBuffer" });
  const audio = must(spoken.data, spoken.response, spoken.error);
  writeFileSync(env("CW_AUDIO_PATH"), new Uint8Array(audio));

  const usage = await usageOnceBilled(client);

  const unservable: SynthesizeRequest = { ...wav, sample_rate: 12345 };
  const bad = await client.POST("/v1/synthesize", { body: unservable, parseAs: "arrayBuffer" });

  const deleted = await client.DELETE("/v1/voices/{voice_id}", byPath);
  const afterDelete = await client.GET("/v1/voices/{voice_id}", byPath);

  const report = {
    base_voice: base.id,
    preset: { id: preset.id, type: preset.type, base_voice: preset.base_voice, speed: preset.speed },
    listed_presets: presets,
    outsider_get: refusal(outsiderGet.response, outsiderGet.error),
    outsider_delete: refusal(outsiderDelete.response, outsiderDelete.error),
    audio: { status: spoken.response.status, type: spoken.response.headers.get("content-type") },
    usage: { requests: usage.requests, characters: usage.characters },
    bad_request: refusal(bad.response, bad.error),
    deleted: deleted.response.status,
    after_delete: refusal(afterDelete.response, afterDelete.error),
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
