import java.nio.file.Path;
import java.util.List;
import org.pariskv.ParisKvConfig;
import org.pariskv.model.LlamaModel;
import org.pariskv.model.Sampler;
import org.pariskv.model.Session;
import org.pariskv.model.Tokenizer;

/**
 * A Llama checkpoint embedded in Java: one prompt generated greedily, then two prompts of different lengths decoded
 * together as a ragged batch, every layer's attention under the chosen method.
 * Usage: Generate [model dir (default src/main/resources/model/pariskv-byte)] [method (default pariskv)] [tokens (default 32)]
 */
public class Generate {
    public static void main(String[] args) {
        Path dir = Path.of(args.length > 0 ? args[0] : "src/main/resources/model/pariskv-byte");
        String method = args.length > 1 ? args[1] : "pariskv";
        int tokens = args.length > 2 ? Integer.parseInt(args[2]) : 32;
        try (LlamaModel model = LlamaModel.load(dir, method, ParisKvConfig.defaults())) {
            Tokenizer tok = Tokenizer.forModel(dir, model.config());
            Sampler greedy = Sampler.greedy();
            try (Session s = model.newSession()) {
                long t0 = System.nanoTime();
                s.prefill(tok.encodeWithBos("The pass key is 71532. Remember it. What is the pass key? The pass key is "));
                long t1 = System.nanoTime();
                int[] out = s.generate(greedy, tokens, t -> model.config().eosTokenIds().contains(t));
                long t2 = System.nanoTime();
                System.out.printf("%s: %s%n  prefill %d tokens %.1f ms, %d tokens at %.2f ms/token%n", method, tok.decode(out).strip(),
                        s.length() - out.length, (t1 - t0) / 1e6, out.length, (t2 - t1) / 1e6 / Math.max(1, out.length));
            }
            try (Session a = model.newSession(); Session b = model.newSession()) { // a ragged batch: 8 and 38 tokens
                a.prefill(tok.encodeWithBos("Hello, "));
                b.prefill(tok.encodeWithBos("The grass is green. The sky is blue. "));
                int[][] next = new int[tokens][];
                for (int i = 0; i < tokens; i++) next[i] = model.next(List.of(a, b), greedy);
                System.out.printf("batch of 2: lengths %d and %d after %d steps%n", a.length(), b.length(), tokens);
            }
        }
    }
}
