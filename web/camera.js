// The camera: opened at the served size, listed for the picker.

// A fixed size keeps the sent resolution stable (the model's contract); a camera that cannot
// give exactly that gets the nearest it can, which the server rescales.
export async function openCamera(deviceId, { width, height, fps }) {
  const base = deviceId ? { deviceId: { exact: deviceId } } : {};
  try {
    return await navigator.mediaDevices.getUserMedia({
      video: { ...base, width: { exact: width }, height: { exact: height }, frameRate: { ideal: fps } },
    });
  } catch (e) {
    if (e.name !== "OverconstrainedError") throw e;
    return navigator.mediaDevices.getUserMedia({
      video: { ...base, width: { ideal: width }, height: { ideal: height }, frameRate: { ideal: fps } },
    });
  }
}

// <option>s of the video inputs (labelled once the page has camera permission).
export async function cameraOptions(current) {
  const devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "videoinput");
  return devices.map((d, i) => {
    const o = document.createElement("option");
    o.value = d.deviceId;
    o.textContent = d.label || `camera ${i + 1}`;
    o.selected = d.deviceId === current;
    return o;
  });
}
