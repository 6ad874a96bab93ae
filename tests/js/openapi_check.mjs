// Independent checks of docs/openapi.yaml (tests/openapi_test.sh): the document against the
// OpenAPI 3.1 schema (@apidevtools/swagger-parser), and a running daemon against the document
// (every reply's status and body, JSON bodies with Ajv's JSON Schema 2020-12, the dialect of
// OpenAPI 3.1). Nothing here shares code with the daemon.
//
//   node openapi_check.mjs validate DOC
//       exit 0 when DOC is a valid OpenAPI 3.1 document.
//   node openapi_check.mjs routes DOC URL TOKEN
//       (1) below alone.
//   node openapi_check.mjs walk DOC URL TOKEN
//       (1) the routes the daemon serves (GET /v1/debug/routes) and the operations DOC describes
//       must be the same set; (2) every step below is sent to URL and its reply checked against
//       DOC: the status is the step's and is documented for the operation, the body matches
//       the documented content type and schema; (3) every served route was walked by a step.
//       Prints one line per failure and exits 1 when there is any.
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';

const [mode, docPath, baseUrl, token] = process.argv.slice(2);
const failures = [];
const fail = (message) => {
  failures.push(message);
  console.error(`FAIL: ${message}`);
};

/// The OpenAPI path template that `path` (no query) falls under: exact paths first, then the
/// template with the fewest `{name}` segments. null when none does.
function templateOf(api, path) {
  let best = null;
  let bestParams = Infinity;
  for (const template of Object.keys(api.paths)) {
    const regex = new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`);
    if (!regex.test(path)) continue;
    const params = (template.match(/\{/g) || []).length;
    if (params < bestParams) {
      best = template;
      bestParams = params;
    }
  }
  return best;
}

/// "GET /v1/data/{}": a route with its parameter names left out, as both sides name them freely.
const routeKey = (method, template) => `${method.toUpperCase()} ${template.replace(/\{[^}]+\}/g, '{}')}`;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

function documentedRoutes(api) {
  const routes = new Set();
  for (const [template, item] of Object.entries(api.paths)) {
    for (const method of METHODS) if (item[method]) routes.add(routeKey(method, template));
  }
  return routes;
}

/// The documented media type a reply's Content-Type falls under: exact, then type/*, then */*.
function mediaFor(content, contentType) {
  const type = (contentType || '').split(';')[0].trim().toLowerCase();
  if (content[type]) return content[type];
  const family = `${type.split('/')[0]}/*`;
  return content[family] || content['*/*'] || null;
}

const ajv = new Ajv2020({ strict: false, allErrors: true });
const validators = new Map();
function validatorFor(schema) {
  if (!validators.has(schema)) validators.set(schema, ajv.compile(schema));
  return validators.get(schema);
}

/// Sends one step and checks its reply against the document; returns the reply's text.
async function send(api, walked, step) {
  const [pathOnly] = step.path.split('?');
  const label = `${step.method} ${step.path}${step.note ? ` (${step.note})` : ''}`;
  const template = templateOf(api, pathOnly);
  if (!template) {
    fail(`${label}: no path of the document matches ${pathOnly}`);
    return null;
  }
  const operation = api.paths[template][step.method.toLowerCase()];
  if (!operation) {
    fail(`${label}: the document has no ${step.method} on ${template}`);
    return null;
  }
  walked.add(routeKey(step.method, template));
  const headers = { ...(step.auth === false ? {} : { Authorization: `Bearer ${token}` }), ...(step.headers || {}) };
  let body = step.body;
  if (body !== undefined && typeof body !== 'string') {
    body = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  let reply;
  let text;
  try {
    reply = await fetch(`${baseUrl}${step.path}`, { method: step.method, headers, body });
    text = await reply.text();
  } catch (error) {
    fail(`${label}: ${error.message}${error.cause ? `: ${error.cause.message || error.cause}` : ''}`);
    return null;
  }
  if (reply.status !== step.expect) {
    fail(`${label}: status ${reply.status}, expected ${step.expect}: ${text.slice(0, 300)}`);
  }
  const response = operation.responses[String(reply.status)] || operation.responses.default;
  if (!response) {
    fail(`${label}: status ${reply.status} is not documented for ${step.method} ${template}`);
    return text;
  }
  if (!response.content) {
    if (text.length !== 0) fail(`${label}: ${reply.status} has no documented body, but one came: ${text.slice(0, 100)}`);
    return text;
  }
  const contentType = reply.headers.get('content-type');
  const media = mediaFor(response.content, contentType);
  if (!media) {
    fail(`${label}: Content-Type ${contentType} is not documented for ${reply.status}`);
    return text;
  }
  if (!media.schema) return text;
  let value = text;
  if ((contentType || '').startsWith('application/json')) {
    try {
      value = JSON.parse(text);
    } catch {
      fail(`${label}: the body is not JSON: ${text.slice(0, 100)}`);
      return text;
    }
  } else if (!(media.schema.type === 'string' || media.schema.pattern)) {
    return text;  // bytes of a file: nothing more to check against a schema
  }
  const validate = validatorFor(media.schema);
  if (!validate(value)) {
    fail(`${label}: the ${reply.status} body does not match the document: ${ajv.errorsText(validate.errors)}; body: ${text.slice(0, 300)}`);
  }
  return text;
}

/// The routes the daemon serves (GET /v1/debug/routes), after failing for each one the document
/// does not describe and each operation it describes that the daemon does not serve.
async function compareRoutes(api) {
  const served = await fetch(`${baseUrl}/v1/debug/routes`, { headers: { Authorization: `Bearer ${token}` } });
  if (served.status !== 200) {
    fail(`GET /v1/debug/routes answered ${served.status}`);
    return new Set();
  }
  const servedRoutes = new Set((await served.json()).map((r) => routeKey(r.method, r.path)));
  const described = documentedRoutes(api);
  for (const route of servedRoutes) if (!described.has(route)) fail(`${route} is served but not described in the document`);
  for (const route of described) if (!servedRoutes.has(route)) fail(`${route} is described but the daemon does not serve it`);
  return servedRoutes;
}

async function walk(api) {
  const servedRoutes = await compareRoutes(api);

  const walked = new Set();
  const step = (method, path, expect, extra = {}) => send(api, walked, { method, path, expect, ...extra });
  const content = 'hello, open bucket\n'.repeat(1000);

  // Node and data.
  await step('GET', '/v1/debug/info', 200);
  await step('GET', '/v1/debug/routes', 200);
  await step('GET', '/v1/space', 200);
  await step('GET', '/metrics', 200);
  await step('GET', '/v1/data', 401, { auth: false, note: 'no token' });
  const stored = await step('POST', '/v1/data?k=2&m=1', 200, {
    body: content,
    headers: { 'Content-Disposition': 'attachment; filename="hello.txt"', 'Content-Type': 'text/plain', Accept: 'application/json' },
  });
  let cid = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy';
  try {
    cid = JSON.parse(stored).cid;
  } catch {
    fail('the upload did not answer with JSON, so the file routes are walked with a CID not stored');
  }
  await step('POST', '/v1/data', 200, { body: content, note: 'text/plain reply' });
  await step('POST', '/v1/data?k=0', 400, { body: content, note: 'bad k' });
  await step('GET', '/v1/data', 200);
  const back = await step('GET', `/v1/data/${cid}`, 200);
  if (back !== content) fail(`GET /v1/data/${cid} did not give the stored bytes back`);
  await step('GET', `/v1/data/${cid}/network/stream`, 200);
  await step('GET', `/v1/data/${cid}/network/stream`, 400, {
    headers: { 'X-Open-Bucket-Share-Token': 'not-a-token' }, note: 'a share token of the wrong shape' });
  await step('POST', `/v1/data/${cid}/network`, 200, { note: 'already stored' });
  await step('GET', `/v1/providers/${cid}`, 200);
  await step('GET', '/v1/data/not-a-cid', 400);
  await step('GET', '/v1/peers', 200);
  await step('GET', '/v1/peers/not-a-peer', 400);
  await step('GET', '/v1/connect/not-a-peer', 400);
  await step('DELETE', `/v1/data/${cid}`, 204);
  await step('GET', `/v1/data/${cid}`, 404, { note: 'removed' });
  await step('DELETE', `/v1/data/${cid}`, 404, { note: 'removed' });

  // The Producer, on a node with no tracker configured.
  await step('POST', '/v1/producer/start', 400, { note: 'no tracker' });
  await step('POST', '/v1/producer/stop', 200);
  await step('GET', '/v1/producer/files', 400, { note: 'no tracker' });
  await step('GET', '/v1/producer/files/local', 200);
  await step('GET', '/v1/producer/files/downloads', 200, { note: 'none running' });
  await step('POST', '/v1/producer/files/upload', 400, { body: {}, note: 'no path' });
  await step('POST', '/v1/producer/files/download', 400, { body: { fileId: cid }, note: 'no destination' });
  await step('POST', '/v1/producer/files/remove', 400, { body: {}, note: 'no file' });
  await step('POST', '/v1/producer/files/share', 400, { body: {}, note: 'no file' });
  await step('POST', '/v1/producer/files/share', 400, { body: { fileId: cid, expires: 'soon' }, note: 'bad expiry' });
  await step('POST', '/v1/producer/edit', 400, { body: { path: 'x' }, note: 'no fileId' });
  await step('POST', '/v1/producer/withdraw', 400, { body: { account: 'nobody' }, note: 'no such account' });
  await step('POST', '/v1/producer/configs', 400, { body: { defaultAvailability: 0 } });
  await step('POST', '/v1/producer/configs', 200, { body: { defaultAvailability: 2 } });

  // The Consumer.
  await step('POST', '/v1/consumer/start', 400, { note: 'no tracker' });
  await step('POST', '/v1/consumer/stop', 200);
  await step('POST', '/v1/consumer/configs', 400, { body: { limit: 'lots' } });
  await step('POST', '/v1/consumer/configs', 200, { body: { limit: '1 GB' } });
  await step('GET', '/v1/consumer/slots', 200);
  await step('GET', '/v1/consumer/earnings', 400, { note: 'no market' });
  await step('POST', '/v1/consumer/withdraw', 400, { note: 'no market' });

  // The wallet, with no Ethereum node to answer.
  const created = await step('POST', '/v1/wallet/accounts', 200, { body: { passphrase: 'a passphrase', words: 12, name: 'first' } });
  let address = '0x0000000000000000000000000000000000000000';
  try {
    address = JSON.parse(created).address;
  } catch {
    fail('creating an account did not answer with JSON');
  }
  await step('POST', '/v1/wallet/accounts', 409, { body: { passphrase: 'a passphrase', words: 12, name: 'first' } });
  await step('POST', '/v1/wallet/accounts', 400, { body: { words: 12 }, note: 'no passphrase' });
  await step('GET', '/v1/wallet/accounts', 200);
  await step('POST', '/v1/wallet/default', 200, { body: { account: 'first' } });
  await step('POST', '/v1/wallet/default', 404, { body: { account: 'nobody' } });
  await step('GET', '/v1/wallet/accounts/0x12/balance', 400);
  await step('GET', `/v1/wallet/accounts/${address}/balance`, 500, { note: 'no Ethereum node' });
  await step('POST', '/v1/wallet/send', 400, { body: { to: 'nowhere', amount: '1', passphrase: 'x' } });
  await step('POST', '/v1/wallet/request', 400, { body: { amount: 'much' } });

  for (const route of servedRoutes) if (!walked.has(route)) fail(`${route} is served but no step of openapi_check.mjs walks it`);
}

try {
  const api = await SwaggerParser.validate(docPath);
  if (!api.openapi.startsWith('3.1.')) fail(`the document is OpenAPI ${api.openapi}, not 3.1`);
  if (mode === 'walk') {
    await walk(api);
  } else if (mode === 'routes') {
    await compareRoutes(api);
  } else if (mode !== 'validate') {
    fail(`unknown mode ${mode}: validate, routes or walk`);
  }
} catch (error) {
  fail(`${docPath}: ${error.message}`);
}
if (failures.length) process.exit(1);
console.log(`${mode}: ok`);
