package org.pariskv.compute;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DeviceSpecTest {
    private static final DeviceInfo JAVA = new DeviceInfo(BackendKind.JAVA, 0, "JVM", "jvm", DeviceType.CPU, 1, 1, 1, 0, 0);
    private static final DeviceInfo POCL = new DeviceInfo(BackendKind.OPENCL, 0, "PoCL", "cpu", DeviceType.CPU, 1, 1, 1, 0, 0);
    private static final DeviceInfo CL_GPU = new DeviceInfo(BackendKind.OPENCL, 1, "NVIDIA CUDA", "H100", DeviceType.GPU, 1, 1, 1, 0, 0);
    private static final DeviceInfo CUDA0 = new DeviceInfo(BackendKind.CUDA, 0, "CUDA 13.0", "H100", DeviceType.GPU, 1, 1, 1, 0, 0);

    @Test
    void parsesEveryForm() {
        assertEquals(DeviceSpec.JAVA, DeviceSpec.parse("java"));
        assertEquals(DeviceSpec.AUTO, DeviceSpec.parse(" AUTO "));
        assertEquals(new DeviceSpec(BackendKind.OPENCL, -1), DeviceSpec.parse("opencl"));
        assertEquals(new DeviceSpec(BackendKind.OPENCL, 2), DeviceSpec.parse("opencl:2"));
        assertEquals(new DeviceSpec(BackendKind.CUDA, -1), DeviceSpec.parse("cuda"));
        assertEquals(new DeviceSpec(BackendKind.CUDA, 1), DeviceSpec.parse("CUDA:1"));
        assertEquals("opencl:2", DeviceSpec.parse("opencl:2").toString());
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpu", "vulkan:0", "cuda:", "cuda:x", "opencl:-1", "auto:1", "java:2", "", "  "})
    void rejectsUnknownSpecsWithTheAcceptedForms(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DeviceSpec.parse(text));
        assertTrue(e.getMessage().contains("java") || e.getMessage().contains("index"), e.getMessage());
    }

    @Test
    void unknownNameMessageListsForms() {
        var e = assertThrows(IllegalArgumentException.class, () -> DeviceSpec.parse("gpu"));
        assertEquals("unknown device 'gpu'; expected one of java, opencl, opencl:N, cuda, cuda:N, auto", e.getMessage());
    }

    @Test
    void autoPrefersCudaThenOpenClGpuThenJava() {
        assertEquals(CUDA0, DeviceSpec.AUTO.resolve(new DeviceListing(List.of(JAVA, POCL, CL_GPU, CUDA0), Map.of())));
        assertEquals(CL_GPU, DeviceSpec.AUTO.resolve(new DeviceListing(List.of(JAVA, POCL, CL_GPU),
                Map.of(BackendKind.CUDA, "no libcuda"))));
        // an OpenCL CPU device (PoCL) is selectable but never chosen by auto
        assertEquals(JAVA, DeviceSpec.AUTO.resolve(new DeviceListing(List.of(JAVA, POCL), Map.of())));
    }

    @Test
    void explicitSpecsResolveByIndexAndPreferGpuWithoutOne() {
        var listing = new DeviceListing(List.of(JAVA, POCL, CL_GPU), Map.of());
        assertEquals(POCL, DeviceSpec.parse("opencl:0").resolve(listing));
        assertEquals(CL_GPU, DeviceSpec.parse("opencl:1").resolve(listing));
        assertEquals(CL_GPU, DeviceSpec.parse("opencl").resolve(listing));
        assertEquals(JAVA, DeviceSpec.parse("java").resolve(listing));
    }

    @Test
    void missingBackendOrIndexSaysWhy() {
        var listing = new DeviceListing(List.of(JAVA, POCL), Map.of(BackendKind.CUDA, "cannot load libcuda.so.1"));
        var noCuda = assertThrows(BackendUnavailableException.class, () -> DeviceSpec.parse("cuda").resolve(listing));
        assertTrue(noCuda.getMessage().contains("cannot load libcuda.so.1"), noCuda.getMessage());
        var noIndex = assertThrows(BackendUnavailableException.class, () -> DeviceSpec.parse("opencl:3").resolve(listing));
        assertTrue(noIndex.getMessage().contains("'opencl:3' does not exist") && noIndex.getMessage().contains("opencl:0 cpu"),
                noIndex.getMessage());
    }
}
