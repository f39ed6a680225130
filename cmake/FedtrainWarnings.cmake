# Warning flags shared by every fedtrain target.
add_library(fedtrain_warnings INTERFACE)
add_library(fedtrain::warnings ALIAS fedtrain_warnings)
target_compile_options(fedtrain_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor>
  # GCC 12 reports a false -Wrestrict inside std::string (GCC bug 105329).
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-restrict>)
