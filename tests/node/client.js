// A WorkerService client built with @grpc/grpc-js from the project's .proto files.
// Usage: node client.js <protos root> <host:port>; prints one JSON line with what it saw.
"use strict";
const path = require("path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

const [root, target] = process.argv.slice(2);
const definition = protoLoader.loadSync(
  [path.join(root, "worker/v1/worker.proto"), path.join(root, "worker/v1/payload.proto")],
  { includeDirs: [root], keepCase: true, longs: String, enums: String, defaults: true },
);
const loaded = grpc.loadPackageDefinition(definition);
const client = new loaded.worker.v1.WorkerService(target, grpc.credentials.createInsecure());
const deadline = () => new Date(Date.now() + 10000);

function call(method, request) {
  return new Promise((resolve, reject) =>
    client[method](request, { deadline: deadline() }, (err, reply) => (err ? reject(err) : resolve(reply))));
}

function emailAny(to) {
  // Encode SendEmailPayload by hand (field 1, length-delimited): no protobufjs import needed.
  const bytes = Buffer.from(to, "utf8");
  return { type_url: "type.googleapis.com/worker.v1.SendEmailPayload", value: Buffer.concat([Buffer.from([0x0a, bytes.length]), bytes]) };
}

async function main() {
  const out = {};
  const registered = await call("RegisterTasks", { tasks: [{ name: "send_email", payload: emailAny("node@example.com"), metadata: { queue: "node" } }] });
  const id = registered.ids[0];
  out.registered = registered.ids;
  out.stream = await new Promise((resolve, reject) => {
    const seen = [];
    const stream = client.StreamResults({ ids: [id], close_on_completion: true }, { deadline: deadline() });
    stream.on("data", (r) => seen.push({ id: r.id, output: r.output, error: r.error }));
    stream.on("end", () => resolve(seen));
    stream.on("error", reject);
  });
  const got = await call("GetTask", { id });
  out.get = { id: got.id, name: got.name, status: got.status, output: got.output };
  await call("CancelTask", { id });
  out.cancel = "ok";
  try {
    await call("GetTask", { id: "not-a-uuid" });
    out.bad = "accepted";
  } catch (err) {
    out.bad = { code: err.code, details: err.details };
  }
  console.log(JSON.stringify(out));
  client.close();
}

main().catch((err) => {
  console.error(String(err && err.stack ? err.stack : err));
  process.exit(1);
});
