{ A+B, accepted: int64 throughout. }
program aplusb;
var
  a, b: int64;
begin
  read(a, b);
  writeln(a + b);
end.
