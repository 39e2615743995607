// Runs an ONNX model on one float32 input with ONNX Runtime (the npm package
// onnxruntime-node, found through NODE_PATH) and writes its first output as
// raw little-endian float32. bench/onnx_export.py --check calls it:
//
//   node bench/onnx_run.js MODEL.onnx INPUT.bin N,C,H,W OUTPUT.bin
//
// Install the runtime once, outside the repository:
//   npm install --prefix ~/.cache/effnas-ort --ignore-scripts onnxruntime-node
//   export NODE_PATH=~/.cache/effnas-ort/node_modules
// (--ignore-scripts skips the package's optional CUDA download; the CPU
// runtime ships inside the package.)
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, input, shapeArg, output] = process.argv.slice(2);
  if (!output) {
    console.error('usage: node onnx_run.js MODEL.onnx INPUT.bin N,C,H,W OUTPUT.bin');
    process.exit(2);
  }
  const shape = shapeArg.split(',').map(Number);
  const buf = fs.readFileSync(input);
  const x = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  if (x.length !== shape.reduce((a, b) => a * b, 1)) {
    throw new Error(`${input} holds ${x.length} floats, shape ${shape} needs ${shape.reduce((a, b) => a * b, 1)}`);
  }
  const session = await ort.InferenceSession.create(model);
  const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', x, shape)};
  const out = (await session.run(feeds))[session.outputNames[0]];
  fs.writeFileSync(output, Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength));
  console.log(`onnxruntime-node ${require('onnxruntime-node/package.json').version}: ${session.outputNames[0]} ${out.dims.join('x')}`);
}

main().catch((e) => {
  console.error(`onnx_run: ${e.message}`);
  process.exit(1);
});
