// The room console: joins a room over the room protocol (docs/room-protocol.md) at 48 kHz, plays the
// room through an AudioWorklet and sends the microphone, shows participants with level meters.
const RATE = 48000;
const $ = (id) => document.getElementById(id);
const state = { ws: null, context: null, stream: null, node: null, analyser: null, participants: new Map(), me: null, muted: false };
// For tests and the curious: what the page hears, and its state.
window.roomConsole = state;

const params = new URLSearchParams(location.search);
const fragment = new URLSearchParams(location.hash.slice(1));
$('room').value = params.get('room') || 'demo-room';
$('token').value = fragment.get('token') || '';

function log(text) {
  const line = document.createElement('div');
  line.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $('log').append(line);
  $('log').scrollTop = $('log').scrollHeight;
}

function describe(p) {
  if (p.kind === 'phone' && p.phone) return `Caller ${p.phone.from} → ${p.phone.to}`;
  return p.kind === 'agent' ? `Agent ${p.id}` : `Web ${p.id}`;
}

function renderParticipants() {
  const list = $('participants');
  list.replaceChildren();
  for (const p of state.participants.values()) {
    const item = document.createElement('li');
    item.dataset.id = p.id;
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = describe(p);
    const meter = document.createElement('meter');
    meter.min = 0;
    meter.max = 1;
    meter.value = 0;
    meter.setAttribute('aria-label', `${describe(p)} level`);
    item.append(who, meter);
    if (p.kind === 'phone') {
      const hangup = document.createElement('button');
      hangup.type = 'button';
      hangup.textContent = 'Hang up';
      hangup.setAttribute('aria-label', `Hang up ${describe(p)}`);
      hangup.onclick = () => send({ type: 'hangup', participantId: p.id });
      item.append(hangup);
    }
    list.append(item);
  }
}

function send(message) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(message));
}

function onEvent(message) {
  switch (message.type) {
    case 'joined':
      state.me = message.participantId;
      for (const p of message.participants) state.participants.set(p.id, p);
      renderParticipants();
      log(`joined ${message.roomId} as ${message.participantId}`);
      break;
    case 'participant-joined':
      state.participants.set(message.participant.id, message.participant);
      renderParticipants();
      log(`${describe(message.participant)} joined`);
      break;
    case 'participant-left':
      log(`${describe(state.participants.get(message.participantId) || { id: message.participantId })} left (${message.reason})`);
      state.participants.delete(message.participantId);
      renderParticipants();
      break;
    case 'levels':
      for (const item of $('participants').children) item.querySelector('meter').value = message.levels[item.dataset.id] || 0;
      break;
    case 'dtmf':
      log(`DTMF ${message.digit} from ${describe(state.participants.get(message.participantId) || { id: message.participantId })}`);
      break;
    case 'checkpoint-played':
      log(`checkpoint ${message.name} played`);
      break;
    case 'error':
      log(`error: ${message.message}`);
      break;
  }
}

async function join(room, token) {
  const context = new AudioContext({ sampleRate: RATE, latencyHint: 'interactive' });
  state.context = context; // released by leave() if anything below fails
  await context.audioWorklet.addModule('/console/audio-worklet.js');
  const stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
  state.stream = stream;
  const node = new AudioWorkletNode(context, 'room-io', { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1] });
  const analyser = context.createAnalyser();
  analyser.fftSize = 4096;
  context.createMediaStreamSource(stream).connect(node);
  node.connect(analyser).connect(context.destination);
  await context.resume();

  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const query = new URLSearchParams({ sampleRate: String(RATE), levels: '1', token });
  const ws = new WebSocket(`${scheme}//${location.host}/rooms/${encodeURIComponent(room)}?${query}`);
  ws.binaryType = 'arraybuffer';
  Object.assign(state, { ws, context, stream, node, analyser });
  node.port.onmessage = ({ data }) => {
    $('me-level').value = state.muted ? 0 : data.peak;
    if (ws.readyState === WebSocket.OPEN && !state.muted) ws.send(data.frame);
  };
  ws.onmessage = ({ data }) => {
    if (typeof data === 'string') onEvent(JSON.parse(data));
    else node.port.postMessage(new Int16Array(data), [data]);
  };
  ws.onclose = (event) => {
    log(`disconnected (${event.code}${event.reason ? `: ${event.reason}` : ''})`);
    if (state.ws === ws) leave();
  };
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error('could not join: check the room id and token'));
  });
  $('room-name').textContent = room;
  $('join-form').hidden = true;
  $('in-room').hidden = false;
  $('mute').focus();
}

function leave() {
  state.ws?.close(1000);
  state.stream?.getTracks().forEach((track) => track.stop());
  state.context?.close();
  Object.assign(state, { ws: null, context: null, stream: null, node: null, analyser: null, me: null, muted: false });
  state.participants.clear();
  renderParticipants();
  $('mute').textContent = 'Mute';
  $('mute').setAttribute('aria-pressed', 'false');
  $('in-room').hidden = true;
  $('join-form').hidden = false;
}

$('join-form').addEventListener('submit', (event) => {
  event.preventDefault();
  $('join').disabled = true;
  join($('room').value.trim(), $('token').value.trim())
    .catch((err) => {
      log(err.message);
      leave();
    })
    .finally(() => ($('join').disabled = false));
});
$('leave').onclick = () => leave();
$('mute').onclick = () => {
  state.muted = !state.muted;
  send({ type: state.muted ? 'mute' : 'unmute' });
  $('mute').textContent = state.muted ? 'Unmute' : 'Mute';
  $('mute').setAttribute('aria-pressed', String(state.muted));
};
for (const digit of '123456789*0#') {
  const key = document.createElement('button');
  key.type = 'button';
  key.textContent = digit;
  key.setAttribute('aria-label', `DTMF ${digit}`);
  key.onclick = () => send({ type: 'send-dtmf', digits: digit });
  $('keypad').append(key);
}
