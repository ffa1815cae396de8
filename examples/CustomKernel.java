import java.util.Random;
import org.pariskv.compute.DeviceInfo;
import org.pariskv.compute.DeviceSpec;
import org.pariskv.compute.Devices;
import org.pariskv.compute.Grid;
import org.pariskv.compute.graph.DataTransferMode;
import org.pariskv.compute.graph.ExecutionPlan;
import org.pariskv.compute.graph.ExecutionResult;
import org.pariskv.compute.graph.FloatParam;
import org.pariskv.compute.graph.TaskGraph;
import org.pariskv.compute.kernel.FloatArray;
import org.pariskv.compute.kernel.Kernel;
import org.pariskv.compute.kernel.KernelContext;
import org.pariskv.compute.smoke.SmokeTasks;

/**
 * Writing your own task in Java: a row-wise softmax kernel (one work-group per row, max and sum reduced in local
 * memory), put in a TaskGraph after a built-in task (saxpy, which scales the scores), run on the best device. The
 * same method is the kernel on OpenCL and CUDA (translated at run time) and runs as it is on the java backend.
 * Usage: CustomKernel [device (java|opencl[:N]|cuda[:N]|auto)] [rows] [columns]
 */
public class CustomKernel {
    static final int GROUP = 128;

    /** probs[r][c] = exp(scores[r][c] - max_r) / sum_r, one work-group of GROUP work-items per row. */
    @Kernel
    public static void softmaxRows(KernelContext ctx, FloatArray scores, FloatArray probs, int cols) {
        float[] scratch = ctx.allocateFloatLocalArray(GROUP);
        int lid = ctx.localId(0), size = ctx.localSize(0);
        int base = ctx.groupId(0) * cols;
        float max = Float.NEGATIVE_INFINITY;
        for (int c = lid; c < cols; c += size) max = Math.max(max, scores.get(base + c));
        float rowMax = reduce(ctx, scratch, max, true);
        float sum = 0;
        for (int c = lid; c < cols; c += size) {
            float e = (float) Math.exp(scores.get(base + c) - rowMax);
            probs.set(base + c, e);
            sum += e;
        }
        float total = reduce(ctx, scratch, sum, false);
        for (int c = lid; c < cols; c += size) probs.set(base + c, probs.get(base + c) / total);
    }

    /** The group's max or sum of {@code v}: a tree in local memory (a device function; barriers inside are fine). */
    static float reduce(KernelContext ctx, float[] scratch, float v, boolean max) {
        int lid = ctx.localId(0);
        scratch[lid] = v;
        ctx.barrier();
        for (int s = ctx.localSize(0) / 2; s > 0; s >>= 1) {
            if (lid < s) scratch[lid] = max ? Math.max(scratch[lid], scratch[lid + s]) : scratch[lid] + scratch[lid + s];
            ctx.barrier();
        }
        float r = scratch[0];
        ctx.barrier(); // everyone has read it before scratch is reused
        return r;
    }

    public static void main(String[] args) {
        String spec = args.length > 0 ? args[0] : "auto";
        int rows = args.length > 1 ? Integer.parseInt(args[1]) : 256;
        int cols = args.length > 2 ? Integer.parseInt(args[2]) : 4096;
        DeviceInfo device = DeviceSpec.parse(spec).resolve(Devices.list());
        Random rnd = new Random(1);
        float[] logits = new float[rows * cols], bias = new float[rows * cols], probs = new float[rows * cols];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) rnd.nextGaussian();
            bias[i] = (float) rnd.nextGaussian();
        }
        float scale = 0.125f;
        float[] scores = bias.clone(); // saxpy writes scale * logits + bias into it
        var graph = new TaskGraph("custom")
                .transferToDevice(DataTransferMode.FIRST_EXECUTION, logits, scores)
                .source(SmokeTasks.class) // a built-in task ...
                .task("saxpy", Grid.linear(rows * cols, SmokeTasks.GROUP), logits, scores, new FloatParam(scale), rows * cols)
                .source(CustomKernel.class) // ... and ours, on the same device, sharing the scores buffer
                .task("softmaxRows", Grid.groups(rows, GROUP), scores, probs, cols)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, probs)
                .snapshot();
        ExecutionResult r;
        try (ExecutionPlan plan = new ExecutionPlan(graph).withDevice(device)) {
            r = plan.execute();
        }
        double maxError = 0, worstSum = 0;
        for (int row = 0; row < rows; row++) {
            double m = Double.NEGATIVE_INFINITY, s = 0, total = 0;
            for (int c = 0; c < cols; c++) m = Math.max(m, Math.fma(scale, logits[row * cols + c], bias[row * cols + c]));
            for (int c = 0; c < cols; c++) s += Math.exp(Math.fma(scale, logits[row * cols + c], bias[row * cols + c]) - m);
            for (int c = 0; c < cols; c++) {
                double want = Math.exp(Math.fma(scale, logits[row * cols + c], bias[row * cols + c]) - m) / s;
                maxError = Math.max(maxError, Math.abs(want - probs[row * cols + c]));
                total += probs[row * cols + c];
            }
            worstSum = Math.max(worstSum, Math.abs(total - 1));
        }
        System.out.printf("device %s: saxpy + softmaxRows over %d x %d, max |error| %.2e, rows sum to 1 within %.1e%n",
                device.spec(), rows, cols, maxError, worstSum);
        System.out.print(r.table());
        if (maxError > 1e-5 || worstSum > 1e-3) throw new AssertionError("softmax is off: " + maxError + ", " + worstSum);
    }
}
