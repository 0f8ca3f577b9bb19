// The child process of yaml.ts: decodes one document, answers, and exits.
import { decode, type YamlBounds } from './yaml.decode.ts';

process.once('message', (input: YamlBounds & { text: string }) => {
  process.send!(decode(input), () => process.exit(0));
});
