// DynamoDB Local has no host option: its Jetty server listens on every interface, so a
// developer's tables would be open to the whole network. This launcher builds the server
// from the usual command-line arguments and rebinds each connector to 127.0.0.1 before
// it starts. Run it with Java's single-file source launcher (no javac step, no build
// output); scripts/dynamodb_local.py shows the exact command.
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public class DynamoDBLocalLoopback {
    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        // The Jetty server is private and has no setter; reflection is the only way in.
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server server = (Server) field.get(proxy);
        for (Connector connector : server.getConnectors()) {
            ((ServerConnector) connector).setHost("127.0.0.1");
        }
        proxy.start();
        proxy.join();
    }
}
