// voice-trainer: the page's audio bridge (an AudioWorklet; no dependencies).
// Captures the microphone and plays the caller's lines in the same process() call, so both share one clock:
// the number of 16 kHz microphone samples sent so far. It reports where each line started and stopped on that
// clock ("started" / "ended" / "stopped" with `at`), which is how the server lines the two tracks up.
// Works at any AudioContext rate: the microphone is averaged down to 16 kHz, lines are interpolated up.
const OUT_RATE = 16000;
const CHUNK = 320; // 20 ms of 16 kHz samples per message

class PcmBridge extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = (options && options.processorOptions) || {};
    this.fadeSamples = Math.round((o.fadeS || 0.05) * OUT_RATE);
    this.ratio = sampleRate / OUT_RATE; // context frames per 16 kHz sample
    this.running = false;
    this.n = 0; // 16 kHz microphone samples sent: the call clock
    this.acc = new Float32Array(CHUNK);
    this.accN = 0;
    this.sum = 0; // downsampling: running sum and count of context frames for the next 16 kHz sample
    this.cnt = 0;
    this.frames = 0; // context frames consumed since start
    this.lines = []; // {id, pcm (16 kHz), pos (16 kHz samples, fractional), started, fade}
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  onMessage(m) {
    if (m.type === 'run') this.running = true;
    else if (m.type === 'halt') { this.running = false; this.lines = []; }
    else if (m.type === 'play') this.lines.push({ id: m.id, pcm: m.pcm, pos: 0, started: false, fade: -1 });
    else if (m.type === 'stop') {
      const i = this.lines.findIndex((l) => l.id === m.id);
      if (i < 0) return;
      const l = this.lines[i];
      if (!l.started) { this.lines.splice(i, 1); this.port.postMessage({ ev: 'stopped', id: l.id, at: this.n }); }
      else if (l.fade < 0) l.fade = this.fadeSamples;
    }
  }

  pushMic(x) {
    this.acc[this.accN++] = x;
    this.n++;
    if (this.accN === CHUNK) {
      const out = this.acc;
      this.port.postMessage({ mic: out }, [out.buffer]);
      this.acc = new Float32Array(CHUNK);
      this.accN = 0;
    }
  }

  process(inputs, outputs) {
    const out = outputs[0] && outputs[0][0];
    if (!this.running) { if (out) out.fill(0); return true; }
    const input = inputs[0] && inputs[0][0];
    const frames = out ? out.length : (input ? input.length : 128);
    const n0 = this.n; // the clock at the start of this render quantum
    // --- microphone in (to 16 kHz) ---
    if (this.ratio === 1) {
      for (let i = 0; i < frames; i++) this.pushMic(input ? input[i] : 0);
    } else {
      for (let i = 0; i < frames; i++) {
        this.sum += input ? input[i] : 0;
        this.cnt++;
        this.frames++;
        if (this.frames >= (this.n + 1) * this.ratio) { this.pushMic(this.sum / this.cnt); this.sum = 0; this.cnt = 0; }
      }
    }
    // --- caller out (from 16 kHz) ---
    if (!out) return true;
    out.fill(0);
    let j = 0;
    while (j < frames && this.lines.length) {
      const l = this.lines[0];
      const at = () => n0 + Math.round(j / this.ratio);
      if (!l.started) { l.started = true; this.port.postMessage({ ev: 'started', id: l.id, at: at() }); }
      const step = 1 / this.ratio;
      for (; j < frames; j++) {
        const k = Math.floor(l.pos);
        if (k >= l.pcm.length || l.fade === 0) break;
        const f = l.pos - k;
        let v = k + 1 < l.pcm.length ? l.pcm[k] * (1 - f) + l.pcm[k + 1] * f : l.pcm[k];
        if (l.fade > 0) {
          v *= l.fade / this.fadeSamples;
          const before = Math.floor(l.pos);
          if (Math.floor(l.pos + step) > before) l.fade--;
        }
        out[j] = v;
        l.pos += step;
      }
      if (Math.floor(l.pos) >= l.pcm.length || l.fade === 0) {
        this.port.postMessage({ ev: l.fade === 0 ? 'stopped' : 'ended', id: l.id, at: at() });
        this.lines.shift();
      }
    }
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    return true;
  }
}

registerProcessor('pcm-bridge', PcmBridge);
