<?php
// Passerelle delivery-receipt callback receiver (docs/callbacks.md).
//
// Put it where your callback URL points, or try it with PHP's own server:
//   PASSERELLE_CALLBACK_SECRET=... php -S 0.0.0.0:8000 callback_receiver.php
// The secret is the one `passerelle account show LOGIN` prints.

$secret = getenv('PASSERELLE_CALLBACK_SECRET');
$seen_file = getenv('PASSERELLE_EVENTS_FILE') ?: sys_get_temp_dir() . '/passerelle-events.log';
$tolerance = 300; // seconds allowed between the signature's time and ours

// 1. The signature: X-Passerelle-Signature: t=<unix>,v1=<hex HMAC-SHA256>.
//    POST signs the raw body, GET signs the raw query string.
$is_get = $_SERVER['REQUEST_METHOD'] === 'GET';
$body = $is_get ? ($_SERVER['QUERY_STRING'] ?? '') : file_get_contents('php://input');
$fields = $is_get ? $_GET : $_POST;
$signature = [];
foreach (explode(',', $_SERVER['HTTP_X_PASSERELLE_SIGNATURE'] ?? '') as $part) {
    $pair = explode('=', trim($part), 2);
    if (count($pair) === 2) {
        $signature[$pair[0]] = $pair[1];
    }
}
$t = $signature['t'] ?? '';
$v1 = $signature['v1'] ?? '';
$expected = hash_hmac('sha256', "$t.$body", $secret);
if ($secret === false || $secret === '' || !ctype_digit($t)
    || abs(time() - (int) $t) > $tolerance || !hash_equals($expected, $v1)) {
    http_response_code(400);
    exit("invalid signature\n");
}

// 2. Idempotency: the same event may come twice (a retry after a lost answer, a
//    replay); event_id identifies it. Here a file of seen ids, locked; use a UNIQUE
//    column of your database in production.
$event_id = $fields['event_id'];
$handle = fopen($seen_file, 'c+');
flock($handle, LOCK_EX);
$seen = preg_split('/\R/', stream_get_contents($handle), -1, PREG_SPLIT_NO_EMPTY);
$known = false;
foreach ($seen as $line) {
    if (explode(' ', $line)[0] === $event_id) {
        $known = true;
        break;
    }
}
if (!$known) {
    // 3. Your processing, once per event: statut 1 = delivered, 2 = not delivered.
    $line = implode(' ', [$event_id, $fields['msgid'], $fields['dest'], $fields['statut'],
                          $fields['stat'], $fields['date']]);
    fseek($handle, 0, SEEK_END);
    fwrite($handle, $line . "\n");
    fflush($handle);
}
flock($handle, LOCK_UN);
fclose($handle);

// 4. Any 2xx within 10 s tells Passerelle the event arrived.
http_response_code(200);
echo "OK\n";
