// voice-trainer: the practice page. Opens the microphone (echo cancellation on), streams 16 kHz PCM to the
// server over a WebSocket, plays the caller's lines it sends back, and shows the live gauge and each turn's
// feedback. All text from the server is set with textContent (never parsed as HTML).
(() => {
  'use strict';
  const root = document.getElementById('call');
  if (!root) return;
  const opts = JSON.parse(root.dataset.call);
  const $ = (id) => document.getElementById(id);
  const startBtn = $('start');
  const hangBtn = $('hangup');
  const state = { phase: 'idle', session: null, status: null, turns: 0, error: null, lines: 0 };
  window.vtCall = state; // read by the tests and the latency bench
  let ws = null;
  let ctx = null;
  let node = null;
  let stream = null;
  let pending = null; // a "play" message waiting for its PCM
  let t0 = 0;

  const setMsg = (text) => { $('message').textContent = text || ''; };
  const item = (cls, who, text) => {
    const li = document.createElement('li');
    li.className = cls;
    const b = document.createElement('b');
    b.textContent = who + ': ';
    li.appendChild(b);
    li.appendChild(document.createTextNode(text));
    $('log').appendChild(li);
    li.scrollIntoView({ block: 'nearest' });
    return li;
  };

  function finish(status, error) {
    if (state.phase === 'ended') return;
    state.phase = 'ended';
    state.status = status;
    state.error = error || null;
    hangBtn.disabled = true;
    $('who').textContent = 'call ended';
    setMsg('');
    const res = $('result');
    res.textContent = '';
    const p = document.createElement('span');
    p.textContent = status === 'completed' ? 'The call is over. ' : 'The call stopped: ' + (error || status) + '. ';
    res.appendChild(p);
    if (state.session) {
      const a = document.createElement('a');
      a.href = '/sessions/' + encodeURIComponent(state.session) + '/';
      a.textContent = 'Open the report';
      res.appendChild(a);
    }
    if (node) node.port.postMessage({ type: 'halt' });
    if (stream) stream.getTracks().forEach((t) => t.stop());
    if (ws && ws.readyState <= 1) ws.close();
    document.body.dataset.state = 'ended';
  }

  function onServer(m) {
    switch (m.type) {
      case 'play': pending = m; break;
      case 'stop': node.port.postMessage({ type: 'stop', id: m.id }); break;
      case 'status': {
        $('who').textContent = m.who;
        $('turn').textContent = String(m.turn);
        setMsg(m.message);
        if (m.anger !== null && $('anger')) { $('anger').value = m.anger; $('anger-n').textContent = Math.round(m.anger); }
        break;
      }
      case 'session': state.session = m.id; break;
      case 'calibrate': setMsg('Calibration: read any text aloud in your normal voice for ' + m.seconds + ' s'); break;
      case 'caller': {
        state.lines++;
        item('caller', 'Caller', m.text);
        if (m.anger !== null && m.anger !== undefined && $('anger')) { $('anger').value = m.anger; $('anger-n').textContent = Math.round(m.anger); }
        break;
      }
      case 'turn': {
        state.turns = m.index;
        const li = item('you', 'You', m.transcript || '(nothing heard)');
        const facts = [];
        if (m.calmness !== null) facts.push('calmness ' + m.calmness);
        if (m.listening !== null) facts.push('listening ' + m.listening);
        if (facts.length) { const s = document.createElement('span'); s.className = 'meta'; s.textContent = ' (' + facts.join(', ') + ')'; li.appendChild(s); }
        if (m.nudges && m.nudges.length) {
          const ul = document.createElement('ul');
          for (const n of m.nudges) { const x = document.createElement('li'); x.textContent = n; ul.appendChild(x); }
          li.appendChild(ul);
        }
        break;
      }
      case 'end': finish(m.status, m.error); break;
      default: break;
    }
  }

  async function start() {
    if (state.phase !== 'idle') return;
    state.phase = 'starting';
    startBtn.disabled = true;
    setMsg('Opening the microphone...');
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: false, autoGainControl: false, channelCount: 1 },
      });
      try { ctx = new AudioContext({ sampleRate: 16000, latencyHint: 'interactive' }); } catch (e) { ctx = new AudioContext(); }
      await ctx.audioWorklet.addModule('/static/pcm-worklet.js');
      node = new AudioWorkletNode(ctx, 'pcm-bridge', {
        numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1], processorOptions: { fadeS: opts.fade_s },  // practice.fade_out_s: the server assumes this fade
      });
      ctx.createMediaStreamSource(stream).connect(node);
      node.connect(ctx.destination);
      if (ctx.state !== 'running') {
        await Promise.race([ctx.resume(), new Promise((r) => setTimeout(r, 1500))]);
      }
      if (ctx.state !== 'running') {
        setMsg('Click "Start the call" to allow sound.');
        state.phase = 'idle';
        startBtn.disabled = false;
        startBtn.onclick = async () => { await ctx.resume(); state.phase = 'idle'; connect(); };
        return;
      }
      connect();
    } catch (e) {
      finish('failed', 'no microphone: ' + (e && e.message ? e.message : e));
    }
  }

  function connect() {
    state.phase = 'connecting';
    setMsg('Connecting...');
    ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
    ws.binaryType = 'arraybuffer';
    node.port.onmessage = (e) => {
      const d = e.data;
      if (!ws || ws.readyState !== 1) return;
      if (d.mic) {
        const pcm = new Int16Array(d.mic.length);
        let sq = 0;
        for (let i = 0; i < d.mic.length; i++) {
          const v = Math.max(-1, Math.min(1, d.mic[i]));
          pcm[i] = v < 0 ? v * 32768 : v * 32767;
          sq += v * v;
        }
        ws.send(pcm.buffer);
        const db = 10 * Math.log10(sq / d.mic.length + 1e-12);
        $('level').value = Math.max(-60, db);
      } else if (d.ev) {
        ws.send(JSON.stringify({ type: d.ev, id: d.id, at: d.at }));
      }
    };
    ws.onopen = () => {
      state.phase = 'running';
      t0 = performance.now();
      hangBtn.disabled = false;
      ws.send(JSON.stringify({ type: 'start', scenario: opts.scenario, turns: opts.turns, seed: opts.seed,
        calibrate: opts.calibrate, hard: opts.hard }));
      node.port.postMessage({ type: 'run' });
      setMsg('The caller is on the line.');
    };
    ws.onmessage = (e) => {
      if (typeof e.data === 'string') { onServer(JSON.parse(e.data)); return; }
      if (!pending) return;
      const i16 = new Int16Array(e.data);
      const pcm = new Float32Array(i16.length);
      for (let i = 0; i < i16.length; i++) pcm[i] = i16[i] / 32768;
      node.port.postMessage({ type: 'play', id: pending.id, pcm }, [pcm.buffer]);
      pending = null;
    };
    ws.onclose = () => { if (state.phase !== 'ended') finish('device_lost', 'the connection to the server closed'); };
  }

  setInterval(() => {
    if (state.phase !== 'running') return;
    const s = Math.floor((performance.now() - t0) / 1000);
    $('clock').textContent = String(Math.floor(s / 60)).padStart(2, '0') + ':' + String(s % 60).padStart(2, '0');
  }, 500);
  startBtn.addEventListener('click', start);
  hangBtn.addEventListener('click', () => { if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: 'hangup' })); });
  if (opts.autostart) start();
})();
