export async function connectDeviceBus(onState) { onState("offline"); return null; }
