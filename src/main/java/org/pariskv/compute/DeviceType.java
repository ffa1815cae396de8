package org.pariskv.compute;

/** What kind of processor a device is; auto-selection prefers GPUs. */
public enum DeviceType { GPU, CPU, ACCELERATOR, OTHER }
