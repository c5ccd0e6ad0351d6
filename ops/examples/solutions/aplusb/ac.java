// A+B, accepted. The class must be Main (the language table runs `java -cp Main.jar Main`).
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.util.StringTokenizer;

public class Main {
    public static void main(String[] args) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        StringBuilder text = new StringBuilder();
        String line;
        while ((line = in.readLine()) != null)
            text.append(line).append(' ');
        StringTokenizer t = new StringTokenizer(text.toString());
        long a = Long.parseLong(t.nextToken()), b = Long.parseLong(t.nextToken());
        System.out.println(a + b);
    }
}
