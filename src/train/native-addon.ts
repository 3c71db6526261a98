/** Where scripts/build-native.sh puts alexc's onnxruntime binding (src/train/native/ort-session.cc). */
import * as path from "path";

export const NATIVE_ADDON = path.resolve(__dirname, "../../build/native/alexc_ort.node");
