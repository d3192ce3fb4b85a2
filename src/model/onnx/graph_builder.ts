import onnxProto, { type onnx } from 'onnx-proto';

// onnx-proto is protobufjs static code generated from the official onnx.proto: the schema comes from the
// ONNX project, the wire encoding from protobufjs, nothing here hand-encodes bytes.
const proto = onnxProto.onnx;

/** ONNX opset the exported graphs declare (16: RoiAlign half_pixel, GridSample; we use Conv/Resize/Gemm/DepthToSpace). */
export const OPSET = 17;
/** IR version 8 goes with opsets 16–17 (ONNX 1.11–1.12). */
export const IR_VERSION = 8;

const FLOAT = proto.TensorProto.DataType.FLOAT;
const INT64 = proto.TensorProto.DataType.INT64;
const UINT8 = proto.TensorProto.DataType.UINT8;
/** ONNX's code for float32, the `to` of a Cast. */
export const FLOAT32_CODE = FLOAT;

export type AttrValue = number | number[] | string;
/** A dimension: a fixed size, or a name for a size chosen at run time. */
export type Dim = number | string;

function attribute(name: string, v: AttrValue): onnx.IAttributeProto {
  const T = proto.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if (!Number.isInteger(v)) throw new Error(`attribute ${name}=${v}: only integer attributes are used by the exporter`);
  return { name, type: T.INT, i: v };
}

function valueInfo(name: string, dims: Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

/** Collects nodes and initializers of one graph; names are generated so a caller only threads values through. */
export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly constNames = new Map<string, string>();
  private readonly weightNames = new Set<string>();
  private counter = 0;

  constructor(readonly name: string) {}

  input(name: string, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, dims));
    return name;
  }

  output(value: string, name: string, dims: Dim[]): void {
    this.node('Identity', [value], {}, name);
    this.outputs.push(valueInfo(name, dims));
  }

  /** A float32 initializer (weights), stored as little-endian raw bytes (x86 and ARM are both little-endian). */
  weight(name: string, dims: number[], data: Float32Array): string {
    // A weight shared by several layers (the RPN head runs on every level) is stored once.
    if (this.weightNames.has(name)) return name;
    this.weightNames.add(name);
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== data.length) throw new Error(`weight ${name}: ${data.length} values for shape [${dims}]`);
    const bytes = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    this.initializers.push({ name, dims, dataType: FLOAT, rawData: bytes });
    return name;
  }

  /** A uint8 initializer (quantized weights), raw bytes. */
  uint8Weight(name: string, dims: number[], data: Uint8Array): string {
    if (this.weightNames.has(name)) return name;
    this.weightNames.add(name);
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== data.length) throw new Error(`weight ${name}: ${data.length} values for shape [${dims}]`);
    this.initializers.push({ name, dims, dataType: UINT8, rawData: data.slice() });
    return name;
  }

  /** An int64 constant (shapes), deduplicated. */
  int64s(values: number[]): string {
    const key = `i64:${values.join(',')}`;
    const known = this.constNames.get(key);
    if (known) return known;
    const name = `const_i64_${this.constNames.size}`;
    this.initializers.push({ name, dims: [values.length], dataType: INT64, int64Data: values });
    this.constNames.set(key, name);
    return name;
  }

  floats(values: number[]): string {
    const key = `f32:${values.join(',')}`;
    const known = this.constNames.get(key);
    if (known) return known;
    const name = `const_f32_${this.constNames.size}`;
    this.initializers.push({ name, dims: [values.length], dataType: FLOAT, floatData: values });
    this.constNames.set(key, name);
    return name;
  }

  /** Adds a node with one output and returns that output's name. */
  node(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outputName?: string): string {
    const out = outputName ?? `${op.toLowerCase()}_${this.counter++}`;
    this.nodes.push({
      opType: op,
      name: `${op}_${this.counter++}`,
      input: inputs,
      output: [out],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }

  /** The serialized ModelProto. */
  encode(docString: string, metadata: Record<string, string> = {}): Uint8Array {
    const model: onnx.IModelProto = {
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: 'dermstream',
      producerVersion: '0.1.0',
      docString,
      graph: { name: this.name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    };
    const err = proto.ModelProto.verify(model);
    if (err) throw new Error(`ONNX model ${this.name} is not a valid ModelProto: ${err}`);
    return proto.ModelProto.encode(model).finish();
  }
}
