{ An ordinary Pascal program that tests for ONLINE_JUDGE, as contestants do. Prints "ok N". }
program online;
var
  a, b: int64;
begin
{$IFNDEF ONLINE_JUDGE}
  {$FATAL ONLINE_JUDGE is not defined}
{$ENDIF}
  read(a, b);
  writeln('ok ', a + b);
end.
