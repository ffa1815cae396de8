package org.pariskv.compute;

import java.util.Arrays;
import org.pariskv.compute.graph.ExecutionPlan;
import org.pariskv.compute.graph.ExecutionResult;
import org.pariskv.compute.graph.TaskProfile;
import org.pariskv.compute.smoke.SmokeTasks;

/**
 * Diagnostic entry point: lists devices, runs the smoke graph on each one and holds every device's results
 * against the Java twins. Prints per-task times and OK/FAIL; exits 1 when any device fails.
 *
 * <pre>java --enable-native-access=ALL-UNNAMED -cp pariskv.jar org.pariskv.compute.DeviceCheck [n] [--print-kernel]</pre>
 */
public final class DeviceCheck {
    private DeviceCheck() {}

    public static void main(String[] args) {
        int n = 1_000_003;
        boolean print = false;
        for (String a : args) {
            if (a.equals("--print-kernel")) print = true;
            else n = Integer.parseInt(a);
        }
        DeviceListing listing = Devices.list();
        System.out.println("devices:");
        System.out.print(listing.describe().indent(2));
        System.out.println("auto -> " + DeviceSpec.AUTO.resolve(listing).spec());
        if (!listing.of(BackendKind.CUDA).isEmpty()) {
            var nvrtc = org.pariskv.compute.cuda.Nvrtc.load();
            System.out.println("nvrtc " + Arrays.toString(nvrtc.version()) + " from " + nvrtc.location());
        }

        SmokeTasks.Data reference = SmokeTasks.Data.random(n, 42);
        try (ExecutionPlan plan = new ExecutionPlan(SmokeTasks.graph(reference)).withDevice(DeviceSpec.JAVA)) {
            plan.execute();
        }
        boolean allOk = true;
        for (DeviceInfo device : listing.devices()) {
            System.out.println("== " + device.spec() + " " + device.name());
            try {
                SmokeTasks.Data d = SmokeTasks.Data.random(n, 42);
                try (ExecutionPlan plan = new ExecutionPlan(SmokeTasks.graph(d)).withDevice(device).withWarmUp(0)
                        .withPrintKernel(print && device.backend() != BackendKind.JAVA)) {
                    ExecutionResult first = plan.execute();
                    String verdict = compare(reference, d);
                    // second execution: y changes again, x/codes must not be copied again
                    ExecutionResult second = plan.execute();
                    for (TaskProfile t : second.tasks()) {
                        System.out.printf("  %-14s %10.1f us  in %9d B  out %9d B  %s%n", t.task(),
                                t.kernelNanos() / 1e3, t.bytesIn(), t.bytesOut(), t.grid());
                    }
                    System.out.printf("  copies: first execution in %d B, second in %d B; wall %.2f ms%n",
                            first.bytesIn(), second.bytesIn(), second.wallNanos() / 1e6);
                    System.out.println("  " + (verdict.isEmpty() ? "OK" : "FAIL " + verdict));
                    allOk &= verdict.isEmpty();
                }
            } catch (RuntimeException e) {
                allOk = false;
                System.out.println("  FAIL " + e);
            }
        }
        System.out.println(allOk ? "ALL OK" : "SOME FAILED");
        System.exit(allOk ? 0 : 1);
    }

    /** Empty when {@code got} matches the java run {@code want}; else what differs. */
    static String compare(SmokeTasks.Data want, SmokeTasks.Data got) {
        for (int i = 0; i < want.y().length; i++) {
            if (Math.abs(want.y()[i] - got.y()[i]) > 1e-5f * (1 + Math.abs(want.y()[i]))) return "saxpy y[" + i + "]";
        }
        for (int g = 0; g < want.partial().length; g++) {
            float w = want.partial()[g], v = got.partial()[g];
            if (!(Math.abs(w - v) <= 1e-4f * (1 + Math.abs(w)))) return "blockSum partial[" + g + "] " + v + " vs " + w;
        }
        if (!Arrays.equals(want.counts(), got.counts())) return "histogram256 counts";
        for (int i = 0; i < want.bf16().length; i++) {
            // y may differ in the last ulp (FMA contraction), which can move the rounding by one bf16 step
            if (Math.abs(want.bf16()[i] - got.bf16()[i]) > 1) return "toBf16 out[" + i + "]";
        }
        return "";
    }
}
