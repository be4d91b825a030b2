// Does what the node does with its ASR service, with Node's standard library only:
// spawn `python -m service serve --port PORT` as a child, poll GET /health until
// {"status": "ok"}, POST one recorded /utterance request, POST /reset, then stop
// the child the node's way: SIGTERM, and SIGKILL if it is still there after 10 s.
//
// Usage: node node_asr_client.js PYTHON PORT REQUEST_JSON_FILE
// Prints one JSON line per step on stdout for the Python test that drives it:
//   {"event":"spawned","pid":N}
//   {"event":"healthy","after_ms":T,"status":200,"body":{...}}
//   {"event":"utterance","status":S,"body":{...},"after_ms":T}
//   {"event":"reset","status":S,"body":{...}}
//   {"event":"exit","code":C,"signal":S,"after_ms":T,"sigkill_sent":bool}
//   {"event":"failed","message":"..."} when a step cannot be done (the child is still stopped)
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');

const [python, port, requestFile] = process.argv.slice(2);
const HEALTH_TIMEOUT_MS = 90000;
const SIGKILL_AFTER_MS = 10000;
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const child = spawn(python, ['-m', 'service', 'serve', '--port', String(port)], {
  stdio: ['ignore', 'ignore', 'inherit'],
});
out({ event: 'spawned', pid: child.pid });

let exited = null;
const exitWaiters = [];
child.on('exit', (code, signal) => {
  exited = { code, signal };
  exitWaiters.splice(0).forEach((w) => w());
});

function request(method, path, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? null : Buffer.from(JSON.stringify(body));
    const req = http.request({
      host: '127.0.0.1', port: Number(port), path, method, timeout: 120000,
      headers: data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {},
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed = null;
        try { parsed = JSON.parse(text); } catch (e) { parsed = { unparsed: text }; }
        resolve({ status: res.statusCode, body: parsed });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitHealthy() {
  const t0 = Date.now();
  while (Date.now() - t0 < HEALTH_TIMEOUT_MS) {
    if (exited) throw new Error(`the service exited early (${JSON.stringify(exited)})`);
    try {
      const res = await request('GET', '/health');
      if (res.status === 200 && res.body.status === 'ok') {
        out({ event: 'healthy', after_ms: Date.now() - t0, status: res.status, body: res.body });
        return;
      }
    } catch (e) { /* not listening yet */ }
    await sleep(200);
  }
  throw new Error(`no healthy /health within ${HEALTH_TIMEOUT_MS} ms`);
}

function stop() {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let sigkillSent = false;
    const done = () => {
      clearTimeout(timer);
      out(Object.assign({ event: 'exit', after_ms: Date.now() - t0, sigkill_sent: sigkillSent }, exited));
      resolve();
    };
    const timer = setTimeout(() => { sigkillSent = true; child.kill('SIGKILL'); }, SIGKILL_AFTER_MS);
    if (exited) { done(); return; }
    exitWaiters.push(done);
    child.kill('SIGTERM');
  });
}

(async () => {
  try {
    const body = JSON.parse(fs.readFileSync(requestFile, 'utf8'));
    await waitHealthy();
    const t0 = Date.now();
    const res = await request('POST', '/utterance', body);
    out({ event: 'utterance', status: res.status, body: res.body, after_ms: Date.now() - t0 });
    const reset = await request('POST', '/reset', { reset_vad: true, reset_context: true, reset_text_context: true });
    out({ event: 'reset', status: reset.status, body: reset.body });
  } catch (e) {
    out({ event: 'failed', message: String(e && e.message || e) });
  }
  await stop();
  process.exit(0);
})();
