// AudioWorklet: microphone audio at the device rate -> 16 kHz PCM16 chunks for the WebSocket.
//
// Resampling is band-limited: each output sample is a windowed-sinc (Blackman) low-pass
// interpolation of the input, cut off just below the output's Nyquist frequency, so downsampling
// 48 kHz to 16 kHz does not fold 8-24 kHz energy into the speech band. The filter is normalised to
// unit gain at DC. Chunks of `chunk` samples are posted to the page as transferable Int16Array buffers;
// a {type: "flush"} message posts what is left, then the string "flushed".

class PcmResampler extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const settings = options.processorOptions || {};
    this.outRate = settings.targetRate || 16000;
    this.ratio = sampleRate / this.outRate; // input samples per output sample (sampleRate: the context's)
    this.cutoff = 0.92 * Math.min(1, 1 / this.ratio); // of the input Nyquist frequency
    this.half = Math.ceil(12 * Math.max(1, this.ratio)); // filter half-width, in input samples
    this.history = new Float32Array(this.half); // zeros before the first sample
    this.position = this.half; // input index (into history) of the next output sample
    this.chunk = new Int16Array(settings.chunk || 1600);
    this.filled = 0;
    this.port.onmessage = (event) => {
      if (event.data && event.data.type === "flush") {
        this.post(this.filled);
        this.port.postMessage("flushed");
      }
    };
  }

  weight(x) {
    // windowed sinc at distance x (input samples) from the output instant
    if (Math.abs(x) >= this.half) return 0;
    const t = this.cutoff * x;
    const sinc = t === 0 ? 1 : Math.sin(Math.PI * t) / (Math.PI * t);
    const w = 0.42 + 0.5 * Math.cos((Math.PI * x) / this.half) + 0.08 * Math.cos((2 * Math.PI * x) / this.half);
    return sinc * w;
  }

  post(count) {
    if (count === 0) return;
    const out = this.chunk.slice(0, count);
    this.port.postMessage(out.buffer, [out.buffer]);
    this.filled = 0;
  }

  process(inputs, outputs) {
    const channels = inputs[0];
    if (channels && channels.length > 0) {
      const input = channels[0]; // mono: the first channel
      const joined = new Float32Array(this.history.length + input.length);
      joined.set(this.history);
      joined.set(input, this.history.length);
      let p = this.position;
      while (p + this.half < joined.length) {
        const center = Math.floor(p);
        let sum = 0;
        let norm = 0;
        for (let k = center - this.half + 1; k <= center + this.half; k++) {
          const w = this.weight(k - p);
          sum += joined[k] * w;
          norm += w;
        }
        const sample = Math.max(-1, Math.min(1, sum / norm));
        this.chunk[this.filled++] = sample < 0 ? sample * 32768 : sample * 32767;
        if (this.filled === this.chunk.length) this.post(this.filled);
        p += this.ratio;
      }
      const keep = Math.max(0, Math.floor(p) - this.half); // first input sample a later output needs
      this.history = joined.slice(keep);
      this.position = p - keep;
    }
    for (const output of outputs) for (const channel of output) channel.fill(0); // silent: nothing to hear
    return true;
  }
}

registerProcessor("pcm-resampler", PcmResampler);
