// Mimics how an Electron app runs the ASR service: spawn it, read its ready
// line, and stop it with SIGTERM, then SIGKILL after 10 s if it is still there.
// Prints JSON lines on stdout for the Python test that drives it:
//   {"event":"ready", ...the service's ready line...}
//   {"event":"exit","code":C,"signal":S,"after_ms":T,"sigkill_sent":bool}
// Reads commands on stdin: "stop\n" (the SIGTERM → 10 s → SIGKILL sequence).
// Usage: node electron_parent.js PYTHON [service args...]
const { spawn } = require('child_process');
const readline = require('readline');

const [python, ...args] = process.argv.slice(2);
const child = spawn(python, ['-m', 'service', 'serve', ...args], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

readline.createInterface({ input: child.stdout }).on('line', (line) => {
  try { out(Object.assign(JSON.parse(line), { node_pid: process.pid })); } catch (e) { /* not ours */ }
});

let stopAt = null;
let killTimer = null;
let sigkillSent = false;
child.on('exit', (code, signal) => {
  if (killTimer) clearTimeout(killTimer);
  out({ event: 'exit', code, signal, after_ms: stopAt ? Date.now() - stopAt : null,
        sigkill_sent: sigkillSent });
  process.exit(0);
});

readline.createInterface({ input: process.stdin }).on('line', (cmd) => {
  if (cmd.trim() === 'stop' && stopAt === null) {
    stopAt = Date.now();
    child.kill('SIGTERM');
    killTimer = setTimeout(() => { sigkillSent = true; child.kill('SIGKILL'); }, 10000);
  }
});
