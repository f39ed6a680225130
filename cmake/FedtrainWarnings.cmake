# Warning flags shared by every fedtrain target.
add_library(fedtrain_warnings INTERFACE)
add_library(fedtrain::warnings ALIAS fedtrain_warnings)
target_compile_options(fedtrain_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor>)
